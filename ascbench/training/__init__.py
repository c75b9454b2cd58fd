"""Training: the seeded, budgeted training loop and its parts.

The entry point is :func:`train`. Clip data (:class:`ClipData`, :class:`TensorClips`) and
:func:`resolve_device` live in :mod:`ascbench.clips`, below training and evaluation, and are
re-exported here. See :mod:`ascbench.training.trainer` for the order of the
augmentations and how determinism is obtained, :mod:`ascbench.training.optim` for the
``scheduler_params`` of each schedule and :mod:`ascbench.training.augment` for the mixup modes.
"""

from ascbench.clips import Batch, ClipData, TensorClips, resolve_device
from ascbench.training.augment import MIXUP_MODES
from ascbench.training.ema import ModelEma
from ascbench.training.errors import (
    DeviceUnavailableError,
    RecipeError,
    TrainingDiverged,
    TrainingError,
)
from ascbench.training.options import RecipeOptions, recipe_option
from ascbench.training.results import EpochRecord, TrainResult
from ascbench.training.trainer import Teacher, Validate, seed_everything, train

__all__ = [
    "MIXUP_MODES",
    "Batch",
    "ClipData",
    "DeviceUnavailableError",
    "EpochRecord",
    "ModelEma",
    "RecipeError",
    "RecipeOptions",
    "TensorClips",
    "Teacher",
    "TrainResult",
    "TrainingDiverged",
    "TrainingError",
    "Validate",
    "recipe_option",
    "resolve_device",
    "seed_everything",
    "train",
]
