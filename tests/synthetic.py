"""The tiny synthetic TAU 2022 set that the run, executor and plugin end-to-end tests train on."""

from __future__ import annotations

from pathlib import Path

from ascbench.data import SynthConfig, synthesize

#: 3 scenes, 2 training and 1 test location, 2 slices per recording: a few dozen 1-s clips.
TINY_TAU2022 = SynthConfig(
    style="tau2022", scenes=("airport", "bus", "park"), locations_train=2, locations_test=1,
    train_a=4, train_per_device=1, test_per_device=1, slices=2,
)  # fmt: skip


def tiny_tau2022(root: Path) -> Path:
    """Write :data:`TINY_TAU2022` into ``root`` and return ``root``."""
    return synthesize(root, TINY_TAU2022)
