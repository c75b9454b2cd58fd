"""Clips of features with labels and devices: what the trainer and the evaluator both read.

This module sits below :mod:`ascbench.training` and :mod:`ascbench.evaluation` (neither is
imported here), so both can depend on it.

Any object with ``__len__`` and ``__getitem__`` returning one clip as
``(features, label, device, filename)`` works (:class:`ClipData`). Plain
tensors are wrapped with :class:`TensorClips`. An object may also offer a vectorised
``batch(indices) -> Batch`` method; clips are always read through :func:`load_batch`, which
uses it instead of ``__getitem__`` when present, so such an object's items may have another
form (a :class:`~ascbench.features.FeatureSet` is a torch ``Dataset`` of ``(features, label)``
and gives devices and filenames through ``batch``).

- ``features``: a float tensor ``(channels, freq, time)`` (all clips of one set share a shape);
- ``label``: the class index into :data:`ascbench.scenes.SCENES` (or the model's classes), or
  ``-1`` / ``None`` for an unlabelled clip (evaluation sets only);
- ``device``: the recording device (``'a'``, ``'s4'``, …), ``''`` / ``None`` when unknown;
- ``filename``: the clip's key, used in the output CSV and to align teacher logits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch

from ascbench.errors import AscbenchError


class TrainingError(AscbenchError):
    """Training cannot start or continue as configured (bad data, recipe or device).

    Defined here, below training and evaluation, because the clip readers and
    :func:`resolve_device` raise it; :mod:`ascbench.training.errors` re-exports it with the
    errors that only the trainer raises.
    """


class DeviceUnavailableError(TrainingError):
    """A compute device was asked for that this torch build or machine does not have."""


#: Label of a clip without a scene label.
UNLABELLED = -1


@runtime_checkable
class ClipData(Protocol):
    """A sized, indexable collection of clips (see the module docstring for the item format)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Any, Any, Any, Any]: ...


class Batch(NamedTuple):
    """Several clips stacked: features ``(B, C, F, T)``, labels ``(B,)`` (int64, -1 unknown)."""

    features: torch.Tensor
    labels: torch.Tensor
    devices: list[str]
    filenames: list[str]
    indices: torch.Tensor


class TensorClips:
    """Clips held as tensors: features ``(N, C, F, T)`` and labels ``(N,)``.

    ``devices`` and ``filenames`` default to ``''`` and ``'clip<i>'``. Indexing one item gives
    the :class:`ClipData` tuple; :meth:`batch` gathers many at once.
    """

    def __init__(
        self,
        features: torch.Tensor | np.ndarray,
        labels: torch.Tensor | np.ndarray | Sequence[int] | None = None,
        devices: Sequence[str] | None = None,
        filenames: Sequence[str] | None = None,
    ):
        self.features = torch.as_tensor(features, dtype=torch.float32)
        if self.features.ndim != 4:
            raise TrainingError(
                "TensorClips needs features of shape (N, C, F, T), "
                f"got {tuple(self.features.shape)}"
            )
        n = self.features.shape[0]
        if labels is None:
            self.labels = torch.full((n,), UNLABELLED, dtype=torch.long)
        else:
            self.labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        self.devices = [d or "" for d in devices] if devices is not None else [""] * n
        self.filenames = (
            list(filenames) if filenames is not None else [f"clip{i}" for i in range(n)]
        )
        if not (len(self.labels) == len(self.devices) == len(self.filenames) == n):
            raise TrainingError(
                f"TensorClips: {n} feature rows but {len(self.labels)} labels, "
                f"{len(self.devices)} devices and {len(self.filenames)} filenames"
            )

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str, str]:
        return (
            self.features[index],
            int(self.labels[index]),
            self.devices[index],
            self.filenames[index],
        )

    def batch(self, indices: Sequence[int] | torch.Tensor) -> Batch:
        idx = torch.as_tensor(indices, dtype=torch.long)
        rows = idx.tolist()
        return Batch(
            self.features[idx],
            self.labels[idx],
            [self.devices[i] for i in rows],
            [self.filenames[i] for i in rows],
            idx,
        )


def _label(value: Any) -> int:
    if value is None:
        return UNLABELLED
    return int(value)


def collate(items: Sequence[tuple[Any, Any, Any, Any]], indices: Sequence[int]) -> Batch:
    """Stack ``(features, label, device, filename)`` items into a :class:`Batch`."""
    try:
        features = torch.stack([torch.as_tensor(it[0], dtype=torch.float32) for it in items])
    except RuntimeError as exc:
        shapes = sorted({tuple(torch.as_tensor(it[0]).shape) for it in items})
        raise TrainingError(
            f"clips in one batch have different feature shapes {shapes[:3]}; "
            "crop or pad them to one length first"
        ) from exc
    if features.ndim != 4:
        raise TrainingError(
            f"each clip's features must be (channels, freq, time), got {tuple(features.shape[1:])}"
        )
    return Batch(
        features,
        torch.tensor([_label(it[1]) for it in items], dtype=torch.long),
        [str(it[2]) if it[2] is not None else "" for it in items],
        [str(it[3]) for it in items],
        torch.as_tensor(list(indices), dtype=torch.long),
    )


def load_batch(data: ClipData, indices: Sequence[int]) -> Batch:
    """Gather the clips at ``indices`` (through ``data.batch`` when the object has one)."""
    fast = getattr(data, "batch", None)
    if callable(fast):
        return fast(indices)
    return collate([data[int(i)] for i in indices], indices)


class _BatchReader(torch.utils.data.Dataset):
    """Lets DataLoader workers read whole batches with :func:`load_batch` (``batch`` first)."""

    def __init__(self, data: ClipData):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: list[int]) -> Batch:
        return load_batch(self.data, indices)


def _as_read(batch: Batch) -> Batch:
    return batch


def iterate_batches(
    data: ClipData, batches: Sequence[Sequence[int]], num_workers: int = 0
) -> Iterator[Batch]:
    """Yield the batches of clips whose indices are given, in that order.

    The order is fixed by ``batches`` (drawn by the caller from a seeded generator); worker
    processes, when ``num_workers > 0``, only read clips, so they never change the result.
    """
    if num_workers <= 0:
        for indices in batches:
            yield load_batch(data, indices)
        return
    loader = torch.utils.data.DataLoader(
        _BatchReader(data),
        sampler=[list(map(int, b)) for b in batches],
        batch_size=None,
        collate_fn=_as_read,
        num_workers=num_workers,
        # DataLoader draws its worker base seed from this generator; without one it would
        # draw from torch's global RNG and change the dropout masks of the run.
        generator=torch.Generator().manual_seed(0),
    )
    yield from loader


class ClipSubset:
    """The clips at ``rows`` of ``data``, as :class:`ClipData` (e.g. held-out validation rows).

    Item ``i`` is ``data[rows[i]]``; :meth:`batch` gathers through ``data.batch`` when ``data``
    has it, and the :class:`Batch`'s ``indices`` are the subset's own positions (so that
    per-row side data such as teacher logits is indexed by the subset, not by ``data``).
    """

    def __init__(self, data: ClipData, rows: Sequence[int]):
        self.data = data
        self.rows = [int(r) for r in rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[Any, Any, Any, Any]:
        return self.data[self.rows[index]]

    def batch(self, indices: Sequence[int] | torch.Tensor) -> Batch:
        positions = [int(i) for i in indices]
        if not callable(getattr(self.data, "batch", None)):
            return collate([self[i] for i in positions], positions)
        return load_batch(self.data, [self.rows[i] for i in positions])._replace(
            indices=torch.as_tensor(positions, dtype=torch.long)
        )


def check_data(data: Any, what: str) -> None:
    """Raise a one-line error unless ``data`` is a non-empty :class:`ClipData`."""
    if not isinstance(data, ClipData):
        raise TrainingError(
            f"{what} data must have __len__ and __getitem__ (got {type(data).__name__}); "
            "wrap tensors with ascbench.training.TensorClips"
        )
    if len(data) == 0:
        raise TrainingError(f"{what} data holds no clips")


def resolve_device(device: str | torch.device) -> torch.device:
    """``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'``; a one-line error if unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceUnavailableError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {device!r} was asked for but CUDA is not available to torch "
                f"{torch.__version__}; use --device cpu or install a CUDA build of torch"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceUnavailableError(
                f"device {device!r} was asked for but MPS is not available"
            )
    elif dev.type != "cpu":
        raise DeviceUnavailableError(f"device type {dev.type!r} is not supported; use cpu or cuda")
    return dev
