"""Moved to :mod:`ascbench.clips`, below both training and evaluation; kept as an old path."""

from __future__ import annotations

from ascbench.clips import (
    UNLABELLED,
    Batch,
    ClipData,
    ClipSubset,
    TensorClips,
    check_data,
    collate,
    iterate_batches,
    load_batch,
)

__all__ = [
    "UNLABELLED",
    "Batch",
    "ClipData",
    "ClipSubset",
    "TensorClips",
    "check_data",
    "collate",
    "iterate_batches",
    "load_batch",
]
