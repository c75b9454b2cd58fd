"""Released weights into a model: a state dict file or a training checkpoint, read without
unpickling objects (``torch.load(weights_only=True)``) and loaded with strict keys.

A report plugin's model factory takes a ``weights`` path (``ascbench run --weights``) and calls
:func:`load_weights`. Lightning checkpoints keep the state dict under ``state_dict`` with the
module's attribute name as a key prefix (``model.``, ``net.``); :func:`load_weights` strips the
prefix the plugin names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ascbench.errors import AscbenchError


class WeightsError(AscbenchError):
    """A weights file that cannot be read, or whose keys do not match the model."""


def read_state_dict(path: str | Path, prefix: str = "") -> dict[str, Any]:
    """The tensors of a state dict file or of a checkpoint's ``state_dict``, with ``prefix``
    removed from the keys that have it (keys without it are dropped when any key has it)."""
    import torch

    file = Path(path)
    if not file.is_file():
        raise WeightsError(f"{file}: weights file not found")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling, zip and format errors alike
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise WeightsError(f"{file}: not a PyTorch weights file ({first})") from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not data:
        raise WeightsError(f"{file}: holds no state dict (a mapping of names to tensors)")
    if prefix and any(k.startswith(prefix) for k in data):
        data = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
    return data


def state_dict_mismatches(
    own: Mapping[str, Any], state: Mapping[str, Any]
) -> tuple[list[str], list[str], list[str]]:
    """How ``state`` (read from a file) differs from a model's own state dict ``own``: the keys
    it lacks (in ``own``'s order), the keys the model lacks (in ``state``'s order) and the common
    keys whose shapes differ (in ``own``'s order); three empty lists when it loads strictly."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        k
        for k in own
        if k in state
        and hasattr(own[k], "shape")
        and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)
    ]
    return missing, unexpected, shapes


def describe_mismatches(own: Mapping[str, Any], state: Mapping[str, Any]) -> str:
    """How ``state`` fails to load strictly into a model whose state dict is ``own``, in one
    line (the counts and the first key of each kind: missing, unexpected, shape); "" when it
    loads."""
    missing, unexpected, shapes = state_dict_mismatches(own, state)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
    if shapes:
        k = shapes[0]
        problems.append(
            f"{len(shapes)} shape mismatches (first: {k} {tuple(state[k].shape)} in the file, "
            f"{tuple(own[k].shape)} in the model)"
        )
    return "; ".join(problems)


def load_weights(model: Any, path: str | Path, *, prefix: str = "", what: str = "") -> None:
    """Load ``path`` into ``model`` with strict keys and shapes, or fail naming the file and
    the first mismatching keys. ``what`` names the architecture in the message."""
    state = read_state_dict(path, prefix)
    problems = describe_mismatches(model.state_dict(), state)
    if problems:
        target = what or type(model).__name__
        raise WeightsError(f"{path}: does not match {target}: {problems}")
    model.load_state_dict(state, strict=True)
