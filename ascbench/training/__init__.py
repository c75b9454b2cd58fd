"""Training: the seeded, budgeted training loop and its parts.

The entry point is :func:`train`; see :mod:`ascbench.training.trainer` for the order of the
augmentations and how determinism is obtained, :mod:`ascbench.training.optim` for the
``scheduler_params`` of each schedule and :mod:`ascbench.training.augment` for the mixup modes.
"""

from ascbench.training.augment import MIXUP_MODES
from ascbench.training.data import Batch, ClipData, TensorClips
from ascbench.training.ema import ModelEma
from ascbench.training.errors import (
    DeviceUnavailableError,
    RecipeError,
    TrainingDiverged,
    TrainingError,
)
from ascbench.training.trainer import (
    EpochRecord,
    RecipeOptions,
    Teacher,
    TrainResult,
    resolve_device,
    seed_everything,
    train,
)

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
    "resolve_device",
    "seed_everything",
    "train",
]
