"""Errors a user can act on while training a system.

All of them are :class:`ascbench.errors.AscbenchError` subclasses with one-line messages, so
the command line prints them without a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ascbench.errors import AscbenchError

if TYPE_CHECKING:
    from ascbench.training.trainer import TrainResult


class TrainingError(AscbenchError):
    """Training cannot start or continue as configured (bad data, recipe or device)."""


class RecipeError(TrainingError):
    """A training recipe (or its ``scheduler_params``) holds an unusable value."""


class DeviceUnavailableError(TrainingError):
    """A compute device was asked for that this torch build or machine does not have."""


class TrainingDiverged(TrainingError):
    """The training loss became NaN or infinite.

    :attr:`result` holds the :class:`~ascbench.training.trainer.TrainResult` up to the failing
    step (``diverged`` is true), so a caller can still record the history.
    """

    def __init__(self, message: str, result: TrainResult | None = None):
        super().__init__(message)
        self.result = result
