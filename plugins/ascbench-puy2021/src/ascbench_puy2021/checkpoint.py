"""Reading the released SP4ASC checkpoints safely, and loading them strictly.

Upstream format (valeoai/SP4ASC ``TrainingManager.save_state``): a ``torch.save``d dict with
keys ``epoch`` (int), ``net`` (the state dict of the *training-time* network: batch norms
unfolded, running statistics and ``num_batches_tracked`` included), ``optim`` and
``scheduler`` (their state dicts) and, in the released files, ``config`` (the training
config: numbers, strings, lists, None).

Everything in that dict is plain data, so it is read with ``torch.load(weights_only=True)``,
which refuses to unpickle anything but tensors and primitive containers. Nothing here ever
falls back to a full unpickling: a file that a weights-only load refuses is reported, not
executed. A plain state dict of :class:`ascbench_puy2021.model.SP4ASCNet` is accepted too.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ascbench.checkpoints import describe_mismatches
from ascbench.errors import AscbenchError

#: The keys every upstream checkpoint has (``config`` is optional).
UPSTREAM_KEYS: frozenset[str] = frozenset({"epoch", "net", "optim", "scheduler"})


@dataclass
class Checkpoint:
    """What a checkpoint file holds: the network's state dict and, if upstream, its metadata."""

    path: Path
    state_dict: dict[str, torch.Tensor]
    epoch: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    upstream: bool = False


def _resolve(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if p.is_dir() and (p / "ckpt.pth").is_file():
        return p / "ckpt.pth"  # a released model folder
    if not p.exists():
        raise AscbenchError(
            f"{p}: SP4ASC checkpoint not found; pass --weights with the path of a released "
            "ckpt.pth (e.g. <sp4asc>/cnn6_small_dropout_2_specAugment_128_2_32_2/ckpt.pth)"
        )
    if not p.is_file():
        raise AscbenchError(f"{p}: is not a file (and holds no ckpt.pth); pass a checkpoint file")
    return p


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read an SP4ASC checkpoint (upstream dict or plain state dict) with a weights-only load.

    Raises :class:`AscbenchError` naming the file when it is missing, unreadable, holds
    objects a weights-only load refuses, or is not a state dict.
    """
    p = _resolve(path)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise AscbenchError(
            f"{p}: not loadable with torch.load(weights_only=True) ({_reason(exc)}); ascbench "
            "does not unpickle arbitrary objects: re-save the state dict alone, or use the "
            "released ckpt.pth"
        ) from exc
    except Exception as exc:  # zip/EOF/runtime errors of a truncated or foreign file
        raise AscbenchError(
            f"{p}: cannot be read as a torch checkpoint ({_reason(exc)}); the file is corrupt "
            "or not a checkpoint, re-download it"
        ) from exc
    if not isinstance(obj, Mapping):
        raise AscbenchError(
            f"{p}: holds a {type(obj).__name__}, not a checkpoint dict or a state dict"
        )
    upstream = "net" in obj
    state = obj["net"] if upstream else obj
    if not isinstance(state, Mapping) or not state:
        raise AscbenchError(f"{p}: its 'net' entry is not a state dict")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise AscbenchError(
            f"{p}: not a state dict (entries that are not named tensors: {bad[:3]}); an "
            f"upstream checkpoint has keys {sorted(UPSTREAM_KEYS)}"
        )
    epoch = obj.get("epoch") if upstream else None
    config = obj.get("config") if upstream else None
    return Checkpoint(
        path=p,
        state_dict=dict(state),
        epoch=int(epoch) if isinstance(epoch, int) else None,
        config=dict(config) if isinstance(config, Mapping) else {},
        upstream=upstream,
    )


def check_compatible(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Raise a one-line :class:`AscbenchError` naming ``path`` unless ``state`` matches
    ``model``'s state dict exactly (same keys, same shapes)."""
    own = model.state_dict()
    problems = describe_mismatches(own, state)
    if not problems:
        return
    hint = ""
    if any(k.endswith("sp_conv2.bias") and k not in own for k in state):
        hint = " (it looks like an already-folded network; give the training-time checkpoint)"
    raise AscbenchError(
        f"{path}: wrong architecture for {type(model).__name__}: {problems}{hint}; "
        "expected a valeoai/SP4ASC Cnn6_60k checkpoint (256 mels, 10 classes)"
    )


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> Checkpoint:
    """Load the checkpoint at ``path`` into ``model`` with ``strict=True``; returns it."""
    ckpt = read_checkpoint(path)
    check_compatible(model, ckpt.state_dict, ckpt.path)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as exc:  # dtype or other problem not caught by the key/shape check
        raise AscbenchError(f"{ckpt.path}: cannot be loaded ({_reason(exc)})") from exc
    return ckpt
