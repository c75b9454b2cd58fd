"""Errors a user can act on while training a system.

All of them are :class:`ascbench.errors.AscbenchError` subclasses with one-line messages, so
the command line prints them without a traceback. :class:`TrainingError` and
:class:`DeviceUnavailableError` are defined in :mod:`ascbench.clips` (the clip readers and the
device check raise them, for evaluation too) and re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ascbench.clips import DeviceUnavailableError, TrainingError

if TYPE_CHECKING:
    from ascbench.training.results import TrainResult

__all__ = ["DeviceUnavailableError", "RecipeError", "TrainingDiverged", "TrainingError"]


class RecipeError(TrainingError):
    """A training recipe (or its ``scheduler_params``) holds an unusable value."""


class TrainingDiverged(TrainingError):
    """The training loss became NaN or infinite.

    :attr:`result` holds the :class:`~ascbench.training.results.TrainResult` up to the failing
    step (``diverged`` is true), so a caller can still record the history.
    """

    def __init__(self, message: str, result: TrainResult | None = None):
        super().__init__(message)
        self.result = result
