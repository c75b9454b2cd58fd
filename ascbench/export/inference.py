"""What an exported DCASE 2025 inference package runs: the system's own frontend and the run's
final model, rebuilt from the package's resources.

The package holds ``system.json`` (the system definition), ``export.json`` (rule set, seed,
versions) and ``model_state_dict.pt`` (the compressed model's state dict). :func:`load_model`
builds the system with the installed plugins, runs its compressor chain on random calibration
data to get the deployed model's structure (int8, fp16, folded...) and loads the stored state
with strict keys, so the package computes exactly what the run scored.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ascbench.devices import DeviceModels
from ascbench.scenes import SCENES

#: the device id the organisers' evaluator passes for a device it does not know
UNKNOWN_DEVICE = "unknown"


@dataclass
class ExportedSystem:
    """The frontend, the general model and any device-specific models of an exported run."""

    frontend: Any
    general: torch.nn.Module
    clip_seconds: float
    input_shape: tuple[int, ...]
    class_order: list[str] = field(default_factory=lambda: list(SCENES))
    device_models: dict[str, torch.nn.Module] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def model_for(self, device_id: str | None) -> torch.nn.Module:
        """The model of ``device_id``; the general model for an unknown or missing device."""
        return self.device_models.get(str(device_id), self.general)


def load_model(
    resources: str | Path, model_file_path: str | Path | None = None, registry: Any = None
) -> ExportedSystem:
    """The exported system of ``resources`` with the state dict of ``model_file_path``
    (default: the packaged ``model_state_dict.pt``), built with ``registry`` (default: every
    installed plugin and those of ``ASCBENCH_PLUGINS``)."""
    from ascbench.build import build_system
    from ascbench.checkpoints import load_weights
    from ascbench.plugins import load_registry
    from ascbench.profiling import compress_without_data
    from ascbench.systems import System

    resources = Path(resources)
    info = json.loads((resources / "export.json").read_text())
    system = System.model_validate_json((resources / "system.json").read_text())
    registry = registry if registry is not None else load_registry()
    ruleset = registry.ruleset(info["ruleset"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the untrained weights are overwritten; keep the caller's RNG
        built = build_system(system, registry, ruleset)
        model, _, _ = compress_without_data(built, ruleset)
    path = Path(model_file_path) if model_file_path else resources / "model_state_dict.pt"
    devices = _stored_devices(path)
    if devices:  # one model per device: the same structure for each
        model = DeviceModels(model, {d: copy.deepcopy(model) for d in devices})
    load_weights(model, path, what=f"the exported model of system '{system.name}'")
    by_device = dict(model.by_device.items()) if isinstance(model, DeviceModels) else {}
    general = model.general if isinstance(model, DeviceModels) else model
    return ExportedSystem(
        frontend=built.frontend.eval(),
        general=general.eval(),
        device_models={d: m.eval() for d, m in by_device.items()},
        clip_seconds=ruleset.clip_seconds,
        input_shape=tuple(built.input_shape),
        class_order=list(info.get("class_order", SCENES)),
        info=info,
    )


def _stored_devices(path: Path) -> list[str]:
    """The devices a stored :class:`DeviceModels` state dict has models of (none: one model)."""
    from ascbench.checkpoints import read_state_dict

    found = []
    for key in read_state_dict(path):
        if key.startswith("by_device."):
            device = key.split(".", 2)[1]
            if device not in found:
                found.append(device)
    return found


def load_inputs(
    file_paths: Sequence[str | Path], device_ids: Sequence[str], model: ExportedSystem,
    batch_size: int = 64,
) -> list[torch.Tensor]:  # fmt: skip
    """One model input ``(1, C, F, T)`` per file: the audio read as the run reads it (mono,
    resampled to the frontend's rate, cut or zero-padded to the rule set's clip length) and
    passed through the system's frontend."""
    from ascbench.data.audio import load_audio

    if len(file_paths) != len(device_ids):
        raise ValueError(
            f"{len(file_paths)} file paths but {len(device_ids)} device ids; give one per file"
        )
    rate = int(model.frontend.sample_rate)
    samples = int(round(model.clip_seconds * rate))
    inputs: list[torch.Tensor] = []
    for start in range(0, len(file_paths), batch_size):
        paths = file_paths[start : start + batch_size]
        wave = np.zeros((len(paths), samples), dtype=np.float32)
        for row, path in enumerate(paths):
            audio = load_audio(path, rate)[:samples]
            wave[row, : audio.shape[0]] = audio
        with torch.no_grad():
            features = model.frontend(torch.from_numpy(wave)).float()
        inputs.extend(features[i : i + 1] for i in range(len(paths)))
    return inputs


def get_model_for_device(model: ExportedSystem, device_id: str | None) -> torch.nn.Module:
    """The ``torch.nn.Module`` that classifies features of ``device_id``'s clips."""
    return model.model_for(device_id)


def predict(
    file_paths: Sequence[str | Path], device_ids: Sequence[str], model: ExportedSystem,
    batch_size: int = 64,
) -> tuple[list[torch.Tensor], list[str]]:  # fmt: skip
    """Per file, the class logits of its device's model (the organisers' evaluator applies
    the softmax), and the class order."""
    inputs = load_inputs(file_paths, device_ids, model, batch_size)
    logits: list[torch.Tensor | None] = [None] * len(inputs)
    groups: dict[str, list[int]] = {}
    for i, device in enumerate(device_ids):
        groups.setdefault(str(device), []).append(i)
    with torch.no_grad():
        for device, rows in groups.items():
            net = model.model_for(device)
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                out = net(torch.cat([inputs[i] for i in chunk])).float()
                for i, row in zip(chunk, out, strict=True):
                    logits[i] = row
    return [t for t in logits if t is not None], list(model.class_order)
