"""Errors a user can act on while evaluating a system."""

from __future__ import annotations

from ascbench.errors import AscbenchError


class EvaluationError(AscbenchError):
    """Predictions or labels handed to a metric, or the evaluation settings, are unusable."""
