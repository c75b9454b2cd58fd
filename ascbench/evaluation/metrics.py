"""DCASE Task 1 metrics as small accumulating objects (``update`` / ``compute`` / ``reset``).

How DCASE computes them (marmoi/dcase2021_task1a_baseline ``task1a.py: do_evaluation``,
sed_eval ``SceneClassificationMetrics``):

- **class-wise accuracy** = correct / clips of that class, in percent;
- **accuracy** (the headline) = the *macro average*: mean of the class-wise accuracies;
- **class-wise log loss** = ``sklearn.metrics.log_loss`` on the clips of that class, with
  ``labels`` = all classes;
- **log loss** (the headline) = the mean of the class-wise log losses (the official tables'
  "average"; on the balanced test split it equals the log loss over all clips);
- **device-wise**: accuracy = mean of the class-wise accuracies among that device's clips,
  log loss = ``log_loss`` over that device's clips; **device groups** (real a–c, seen s1–s3,
  unseen s4–s6, as the DCASE baselines and CP-JKU report them) are computed the same way on
  the pooled clips of the group's devices.

Log loss clips probabilities to ``[eps, 1 - eps]`` and renormalises each row, as
``sklearn.metrics.log_loss`` did when DCASE 2021/2022 were run (scikit-learn < 1.3, ``eps``
1e-15). Recent scikit-learn clips at the dtype's machine epsilon and no longer renormalises,
so the epsilon is fixed here (:data:`LOG_LOSS_EPS`) to keep numbers comparable across
versions. All computation is in float64. Classes (or devices) without clips are left out of
the averages.

**Predicted class and ties**: the predicted class of a clip is the class of its highest
probability; when several classes share that highest probability exactly (common with int8
models, whose few distinct logits give equal float64 softmax values) the *lowest class index*
among them wins, which is what ``numpy.argmax`` does (:func:`predicted_classes`; every metric
here, the per-clip predictions and the submission CSV use this rule). :func:`tied_clips` counts
the clips where it had to decide.

**Prediction summary** (:func:`summarize_predictions`, the evidence the leaderboard judges a
model that learned nothing by): per class the number of clips predicted as it, the number of
correct clips, the number of tied clips and the one-sided exact binomial p-value of the
correct count against chance (``p = 1 / classes``, ``scipy.stats.binomtest``, alternative
'greater').

**Expected calibration error**: confidence = the top probability, predicted class as above;
the clips are put in :data:`ECE_BINS` equal-width confidence bins ``(k/15, (k+1)/15]`` (the
first bin also holds 0) and ``ECE = Σ_b (n_b / N) · |accuracy_b - mean confidence_b|``
(Guo et al., 2017), reported as a fraction in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from ascbench.evaluation.errors import EvaluationError
from ascbench.scenes import DEVICE_GROUPS, DEVICES, SCENES

#: The epsilon of ``sklearn.metrics.log_loss`` in the releases DCASE 2021/2022 used.
LOG_LOSS_EPS = 1e-15
#: Confidence bins of the expected calibration error.
ECE_BINS = 15


def _to_numpy(values: Any, dtype: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)


def clip_probabilities(probabilities: np.ndarray, eps: float = LOG_LOSS_EPS) -> np.ndarray:
    """Clip to ``[eps, 1 - eps]`` and renormalise rows, as sklearn's ``log_loss`` did."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1.0 - eps)
    return p / p.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, labels: np.ndarray, eps: float = LOG_LOSS_EPS) -> float:
    """Mean negative log probability of the true class, after :func:`clip_probabilities`."""
    p = clip_probabilities(probabilities, eps)
    labels = np.asarray(labels, dtype=np.int64)
    return float(-np.mean(np.log(p[np.arange(len(labels)), labels])))


def predicted_classes(probabilities: np.ndarray) -> np.ndarray:
    """The predicted class index of every clip: the class of the highest probability, and of
    several classes that share it exactly, the lowest index (``numpy.argmax``'s rule)."""
    return np.asarray(probabilities).argmax(axis=1)


def tied_clips(probabilities: np.ndarray) -> int:
    """How many clips have their highest probability shared exactly by two or more classes
    (there :func:`predicted_classes` picks the lowest index)."""
    p = np.asarray(probabilities)
    if p.size == 0:
        return 0
    return int(((p == p.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum())


def binomial_p_value(correct: int, clips: int, classes: int) -> float:
    """One-sided exact binomial p-value of ``correct`` right answers out of ``clips`` when
    each is right with chance probability ``1 / classes``: P(X >= correct)."""
    from scipy.stats import binomtest

    return float(binomtest(correct, clips, 1.0 / classes, alternative="greater").pvalue)


class PredictionSummary(BaseModel):
    """What the per-clip predictions of a labelled set look like as a whole (see the module
    docstring): the evidence for telling a model that learned from one that did not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clips: int = Field(ge=1, description="Clips scored.")
    correct: int = Field(ge=0, description="Clips whose predicted class is their label.")
    predicted: dict[str, int] = Field(
        description="Per class, in class order, the clips predicted as it (zeros included)."
    )
    tied: int = Field(ge=0, description="Clips whose top probability two or more classes share.")
    binomial_p: float = Field(
        ge=0, le=1, description="P(correct or more right by chance), one-sided exact binomial."
    )


def summarize_predictions(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str] = SCENES
) -> PredictionSummary:
    """The :class:`PredictionSummary` of labelled clips (labels are class indices)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if p.ndim != 2 or p.shape[1] != len(classes) or len(y) != len(p) or len(y) == 0:
        raise EvaluationError(
            f"a prediction summary needs (N >= 1, {len(classes)}) probabilities and N labels, "
            f"got {p.shape} and {len(y)}"
        )
    predicted = predicted_classes(p)
    counts = np.bincount(predicted, minlength=len(classes))
    correct = int((predicted == y).sum())
    return PredictionSummary(
        clips=len(y),
        correct=correct,
        predicted={name: int(counts[k]) for k, name in enumerate(classes)},
        tied=tied_clips(p),
        binomial_p=binomial_p_value(correct, len(y), len(classes)),
    )


def class_accuracies(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Percent correct per class (NaN for classes without clips)."""
    out = np.full(n_classes, np.nan)
    for k in range(n_classes):
        sel = labels == k
        if sel.any():
            out[k] = 100.0 * float(np.mean(predicted[sel] == k))
    return out


def class_log_losses(
    probabilities: np.ndarray, labels: np.ndarray, eps: float = LOG_LOSS_EPS
) -> np.ndarray:
    """Log loss per class over that class's clips (NaN for classes without clips)."""
    out = np.full(probabilities.shape[1], np.nan)
    for k in range(probabilities.shape[1]):
        sel = labels == k
        if sel.any():
            out[k] = log_loss(probabilities[sel], labels[sel], eps)
    return out


def macro_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean of the class-wise accuracies, in percent (DCASE's overall accuracy)."""
    acc = class_accuracies(predicted_classes(probabilities), labels, probabilities.shape[1])
    return float(np.nanmean(acc))


def macro_log_loss(
    probabilities: np.ndarray, labels: np.ndarray, eps: float = LOG_LOSS_EPS
) -> float:
    """Mean of the class-wise log losses (DCASE's overall log loss)."""
    return float(np.nanmean(class_log_losses(probabilities, labels, eps)))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE with ``bins`` equal-width confidence bins (see the module docstring)."""
    confidence = probabilities.max(axis=1)
    correct = predicted_classes(probabilities) == labels
    # bin k holds (k/bins, (k+1)/bins]; a confidence of exactly 0 goes to bin 0.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece = 0.0
    n = len(labels)
    for b in range(bins):
        sel = index == b
        if sel.any():
            ece += sel.sum() / n * abs(float(correct[sel].mean()) - float(confidence[sel].mean()))
    return float(ece)


class Metric:
    """Base of the metrics: accumulates probabilities, labels and devices over ``update`` calls.

    ``update(probabilities (N, K), labels (N,), devices (N,) or None)`` takes tensors or arrays;
    ``K`` must equal the number of ``classes`` (default :data:`ascbench.scenes.SCENES`). Labels
    are class indices; unlabelled clips (label < 0) are not accepted. ``compute`` returns a flat
    ``dict[str, float]``; ``reset`` forgets everything.
    """

    def __init__(self, classes: Sequence[str] = SCENES):
        self.classes = tuple(classes)
        self.reset()

    def reset(self) -> None:
        self._probs: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._devices: list[str] = []

    def update(
        self,
        probabilities: torch.Tensor | np.ndarray,
        labels: torch.Tensor | np.ndarray | Sequence[int],
        devices: Sequence[str | None] | None = None,
    ) -> None:
        p = _to_numpy(probabilities, np.float64)
        y = _to_numpy(labels, np.int64).reshape(-1)
        k = len(self.classes)
        if p.ndim != 2 or p.shape[1] != k:
            raise EvaluationError(
                f"{type(self).__name__}: probabilities must be (N, {k}), got {p.shape}"
            )
        if len(y) != p.shape[0]:
            raise EvaluationError(
                f"{type(self).__name__}: {p.shape[0]} probability rows but {len(y)} labels"
            )
        if devices is not None and len(devices) != len(y):
            raise EvaluationError(
                f"{type(self).__name__}: {len(y)} labels but {len(devices)} devices"
            )
        if not np.isfinite(p).all() or p.min(initial=0.0) < 0 or p.max(initial=0.0) > 1 + 1e-6:
            raise EvaluationError(
                f"{type(self).__name__}: probabilities must be finite and within [0, 1]; "
                "pass softmax outputs, not logits"
            )
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise EvaluationError(
                f"{type(self).__name__}: labels must be class indices 0..{k - 1}, "
                f"got {int(y.min())}..{int(y.max())}"
            )
        self._probs.append(p)
        self._labels.append(y)
        if devices is None:
            self._devices.extend([""] * len(y))
        else:
            self._devices.extend("" if d is None else str(d) for d in devices)

    def _data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self._labels or sum(len(y) for y in self._labels) == 0:
            raise EvaluationError(f"{type(self).__name__}: no clips were given before compute()")
        return (
            np.concatenate(self._probs),
            np.concatenate(self._labels),
            np.asarray(self._devices, dtype=object),
        )

    def compute(self) -> dict[str, float]:
        raise NotImplementedError


class MacroAccuracy(Metric):
    """``{'accuracy': percent}``: mean of the class-wise accuracies."""

    def compute(self) -> dict[str, float]:
        p, y, _ = self._data()
        return {"accuracy": macro_accuracy(p, y)}


class LogLossMetric(Metric):
    """A metric with log losses: ``eps`` clips the probabilities (see :func:`log_loss`)."""

    def __init__(self, classes: Sequence[str] = SCENES, eps: float = LOG_LOSS_EPS):
        self.eps = eps
        super().__init__(classes)


class MacroLogLoss(LogLossMetric):
    """``{'log_loss': x}``: mean of the class-wise log losses."""

    def compute(self) -> dict[str, float]:
        p, y, _ = self._data()
        return {"log_loss": macro_log_loss(p, y, self.eps)}


class ClassWise(LogLossMetric):
    """``{'accuracy.<class>': percent, 'log_loss.<class>': x}`` for classes with clips."""

    def compute(self) -> dict[str, float]:
        p, y, _ = self._data()
        acc = class_accuracies(predicted_classes(p), y, len(self.classes))
        ll = class_log_losses(p, y, self.eps)
        out: dict[str, float] = {}
        for k, name in enumerate(self.classes):
            if not np.isnan(acc[k]):
                out[f"accuracy.{name}"] = float(acc[k])
                out[f"log_loss.{name}"] = float(ll[k])
        return out


def _subset_scores(p: np.ndarray, y: np.ndarray, sel: np.ndarray, eps: float) -> dict[str, float]:
    return {
        "accuracy": macro_accuracy(p[sel], y[sel]),
        "log_loss": log_loss(p[sel], y[sel], eps),
        "n": float(sel.sum()),
    }


def _flat_scores(subsets: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{'accuracy.<subset>', 'log_loss.<subset>'}`` from per-subset :func:`_subset_scores`."""
    out: dict[str, float] = {}
    for subset, scores in subsets.items():
        out[f"accuracy.{subset}"] = scores["accuracy"]
        out[f"log_loss.{subset}"] = scores["log_loss"]
    return out


def _ordered_devices(devices: np.ndarray) -> list[str]:
    present = {d for d in devices.tolist() if d}
    return [d for d in DEVICES if d in present] + sorted(present - set(DEVICES))


class DeviceWise(LogLossMetric):
    """``{'accuracy.<device>', 'log_loss.<device>'}`` per device present, DCASE-style.

    Accuracy = mean class-wise accuracy among the device's clips; log loss over its clips.
    Clips with an unknown device are left out.
    """

    def per_device(self) -> dict[str, dict[str, float]]:
        p, y, d = self._data()
        return {dev: _subset_scores(p, y, d == dev, self.eps) for dev in _ordered_devices(d)}

    def compute(self) -> dict[str, float]:
        return _flat_scores(self.per_device())


class DeviceGroups(LogLossMetric):
    """``{'accuracy.<group>', 'log_loss.<group>'}`` for real / seen / unseen device groups.

    Each group is scored like one device on the pooled clips of its devices; groups without
    clips are left out. ``groups`` defaults to :data:`ascbench.scenes.DEVICE_GROUPS`.
    """

    def __init__(
        self,
        classes: Sequence[str] = SCENES,
        eps: float = LOG_LOSS_EPS,
        groups: dict[str, Sequence[str]] | None = None,
    ):
        self.groups = {g: tuple(ds) for g, ds in (groups or DEVICE_GROUPS).items()}
        super().__init__(classes, eps)

    def per_group(self) -> dict[str, dict[str, float]]:
        p, y, d = self._data()
        out = {}
        for group, members in self.groups.items():
            sel = np.isin(d, list(members))
            if sel.any():
                out[group] = _subset_scores(p, y, sel, self.eps)
        return out

    def compute(self) -> dict[str, float]:
        return _flat_scores(self.per_group())


class ExpectedCalibrationError(Metric):
    """``{'ece': fraction}`` with ``bins`` equal-width confidence bins (default 15)."""

    def __init__(self, classes: Sequence[str] = SCENES, bins: int = ECE_BINS):
        if bins < 1:
            raise EvaluationError(f"ECE needs at least one bin, got {bins}")
        self.bins = bins
        super().__init__(classes)

    def compute(self) -> dict[str, float]:
        p, y, _ = self._data()
        return {"ece": expected_calibration_error(p, y, self.bins)}
