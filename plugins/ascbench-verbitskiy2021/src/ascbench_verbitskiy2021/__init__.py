"""Deepsound's MBConv network (Verbitskiy & Vyshegorodtsev, DCASE 2021 Task 1A) for ascbench."""

from ascbench_verbitskiy2021.model import (
    DeepsoundMBConvNet,
    MBConv,
    SqueezeExcite,
    verbitskiy2021_mbconv,
)

__all__ = ["DeepsoundMBConvNet", "MBConv", "SqueezeExcite", "verbitskiy2021_mbconv"]
