"""Evaluation: DCASE metrics as metric objects, and running a model over an evaluation set.

:func:`evaluate` is the entry point; :mod:`ascbench.evaluation.metrics` documents exactly how
each number is computed. :func:`builtin_evaluators` lists the metric objects the built-in
plugin registers.
"""

from __future__ import annotations

from ascbench.components import EvaluatorEntry
from ascbench.evaluation.errors import EvaluationError
from ascbench.evaluation.evaluate import (
    EvaluationResult,
    ModelTestTimeAugmentation,
    Predictions,
    TestTimeAugmentation,
    build_tta,
    clip_seed,
    evaluate,
    predict,
    score_predictions,
)
from ascbench.evaluation.metrics import (
    ECE_BINS,
    LOG_LOSS_EPS,
    ClassWise,
    DeviceGroups,
    DeviceWise,
    ExpectedCalibrationError,
    MacroAccuracy,
    MacroLogLoss,
    Metric,
    PredictionSummary,
    predicted_classes,
    summarize_predictions,
    tied_clips,
)


def builtin_evaluators() -> list[EvaluatorEntry]:
    """The metric factories ascbench ships (registered by :mod:`ascbench.builtin`)."""
    return [
        EvaluatorEntry(
            "accuracy",
            MacroAccuracy,
            "Macro-average accuracy in percent: mean of class-wise accuracies (DCASE)",
        ),
        EvaluatorEntry(
            "log_loss",
            MacroLogLoss,
            "Mean of class-wise log losses, sklearn clipping with eps 1e-15 (DCASE)",
        ),
        EvaluatorEntry("class_wise", ClassWise, "Accuracy and log loss per scene class (DCASE)"),
        EvaluatorEntry(
            "device_wise",
            DeviceWise,
            "Accuracy and log loss per recording device a, b, c, s1-s6 (DCASE)",
        ),
        EvaluatorEntry(
            "device_groups",
            DeviceGroups,
            "Accuracy and log loss for real (a-c), seen (s1-s3), unseen (s4-s6) devices",
        ),
        EvaluatorEntry(
            "ece",
            ExpectedCalibrationError,
            "Expected calibration error over 15 equal-width confidence bins",
        ),
    ]


__all__ = [
    "ECE_BINS",
    "LOG_LOSS_EPS",
    "ClassWise",
    "DeviceGroups",
    "DeviceWise",
    "EvaluationError",
    "EvaluationResult",
    "ExpectedCalibrationError",
    "MacroAccuracy",
    "MacroLogLoss",
    "Metric",
    "ModelTestTimeAugmentation",
    "PredictionSummary",
    "Predictions",
    "TestTimeAugmentation",
    "build_tta",
    "clip_seed",
    "builtin_evaluators",
    "evaluate",
    "predict",
    "predicted_classes",
    "score_predictions",
    "summarize_predictions",
    "tied_clips",
]
