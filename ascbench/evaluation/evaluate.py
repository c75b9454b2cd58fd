"""Run a trained model over an evaluation set and score it the way DCASE does.

:func:`evaluate` puts the model in eval mode, computes softmax probabilities per clip (averaged
over test-time augmentation passes when asked), and fills an :class:`EvaluationResult` with the
metrics of :mod:`ascbench.evaluation.metrics`, and with a :class:`PredictionSummary` of the
predicted classes (counts per class, tied and correct clips, binomial p-value against chance).
Per-clip probabilities come back separately as :class:`Predictions`, for the submission CSV. A
clip's predicted class is its top probability's; exact ties go to the lowest class index.

**Test-time augmentation (TTA).** With ``tta_passes = n > 1`` every pass runs the model on an
augmented copy of the batch and the n softmax outputs are averaged (all n passes are
augmented, as SP4ASC's 30 passes). ``EvaluationSettings.tta_params['method']`` chooses how:

- ``"input"`` (default, :class:`TestTimeAugmentation`): the features are augmented before the
  model with ``specaugment`` (``true`` = the recipe's SpecAugment, or a mapping of SpecAugment
  fields), ``time_shift`` (fraction of the frames, ±), ``shift_mode`` (``roll``/``nearest``)
  and ``freq_shift`` (± bins, nearest fill);
- ``"model"`` (:class:`ModelTestTimeAugmentation`): the model augments itself. After
  ``model.eval()`` every submodule with a method ``test_time_augmentation(enabled: bool)`` is
  called with ``True`` (SP4ASC: its SpecAugment module back in training mode, after BN-mel)
  and with ``False`` afterwards; torch's RNG is seeded for the passes inside
  ``torch.random.fork_rng``, so the caller's RNG state is untouched.

Other keys: ``seed`` (an int overriding :func:`evaluate`'s ``seed`` for the TTA draws) and
``description`` (free text, ignored). A clip's draws in a pass are a function of the seed,
the clip's name and the pass alone (:func:`clip_seed`): the same clip gets the same
augmentations at any batch size, in any order, by :func:`evaluate` or :func:`predict_proba`
(model TTA runs clip by clip for that). Vary the seed to report a mean ± std over TTA draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ascbench.clips import ClipData, TrainingError, check_data, load_batch, resolve_device
from ascbench.devices import forward_with_devices
from ascbench.errors import describe_problem
from ascbench.evaluation.errors import EvaluationError
from ascbench.evaluation.metrics import (
    ECE_BINS,
    LOG_LOSS_EPS,
    DeviceGroups,
    DeviceWise,
    PredictionSummary,
    class_accuracies,
    class_log_losses,
    expected_calibration_error,
    macro_accuracy,
    macro_log_loss,
    predicted_classes,
    summarize_predictions,
)
from ascbench.feature_augment import random_shift, spec_augment
from ascbench.progress import bar as progress_bar
from ascbench.scenes import SCENES
from ascbench.systems import EvaluationSettings, SpecAugment, TrainingRecipe

#: A test-time augmentation: ``(features (B, C, F, T), rng) -> features``.
TTAFunction = Callable[[torch.Tensor, np.random.Generator], torch.Tensor]


class EvaluationResult(BaseModel):
    """The scores of one system on one labelled evaluation set.

    ``class_wise``, ``device_wise`` and ``device_groups`` map a class / device / group name to
    ``{'accuracy': percent, 'log_loss': x, 'n': clips}``. Scores are ``None`` on an
    unlabelled set (only the predictions are then of use).
    """

    model_config = ConfigDict(extra="forbid")

    accuracy: float | None = Field(description="Macro-average accuracy, percent.")
    log_loss: float | None = Field(description="Mean of the class-wise log losses.")
    class_wise: dict[str, dict[str, float]] = Field(default_factory=dict)
    device_wise: dict[str, dict[str, float]] = Field(default_factory=dict)
    device_groups: dict[str, dict[str, float]] = Field(default_factory=dict)
    ece: float | None = Field(None, description=f"Expected calibration error, {ECE_BINS} bins.")
    predictions: PredictionSummary | None = Field(
        None,
        description="Predicted-class counts, correct and tied clips, binomial p-value against "
        "chance (None on an unlabelled set).",
    )
    n_clips: int
    labelled: bool = True
    tta_passes: int = 1
    log_loss_eps: float = LOG_LOSS_EPS
    extra: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Outputs of the system's extra evaluators, by name."
    )


@dataclass
class Predictions:
    """Per-clip outputs in data order: probabilities ``(N, K)`` over ``classes``."""

    filenames: list[str]
    probabilities: np.ndarray
    labels: np.ndarray
    devices: list[str]
    classes: tuple[str, ...] = SCENES

    def predicted_labels(self) -> list[str]:
        """The predicted class name of every clip (the CSV's ``scene_label`` column): the top
        probability's class, the lowest class index among exact ties
        (:func:`~ascbench.evaluation.metrics.predicted_classes`)."""
        return [self.classes[i] for i in predicted_classes(self.probabilities)]


class TestTimeAugmentation:
    """Augments the features of a batch for one TTA pass (``tta_params['method'] = 'input'``)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        specaugment: SpecAugment | None = None,
        time_shift: float = 0.0,
        shift_mode: str = "roll",
        freq_shift: int = 0,
        seed: int | None = None,
    ):
        if shift_mode not in ("roll", "nearest"):
            raise EvaluationError(f"tta shift_mode must be 'roll' or 'nearest', got {shift_mode!r}")
        if not 0 <= time_shift <= 1 or freq_shift < 0:
            raise EvaluationError("tta time_shift must be in [0, 1] and freq_shift >= 0")
        if specaugment is None and time_shift == 0 and freq_shift == 0:
            raise EvaluationError(
                "input test-time augmentation names no augmentation "
                "(tta_params specaugment, time_shift or freq_shift)"
            )
        self.specaugment = specaugment
        self.time_shift = float(time_shift)
        self.shift_mode: Literal["roll", "nearest"] = shift_mode  # type: ignore[assignment]
        self.freq_shift = int(freq_shift)
        self.seed = seed

    def __call__(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        if self.time_shift > 0:
            x = random_shift(x, int(self.time_shift * x.shape[-1]), -1, self.shift_mode, rng)
        if self.freq_shift > 0:
            x = random_shift(x, self.freq_shift, -2, "nearest", rng)
        if self.specaugment is not None:
            x = spec_augment(x, self.specaugment, rng)
        return x


class ModelTestTimeAugmentation:
    """TTA done by the model itself (``tta_params['method'] = 'model'``).

    The features pass unchanged; :meth:`enable` switches on every submodule's
    ``test_time_augmentation(True)`` hook (after ``model.eval()``), :meth:`disable` switches
    them off. The model's random draws come from torch's RNG, seeded per evaluation.
    """

    __test__ = False

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        return x

    @staticmethod
    def hooks(model: torch.nn.Module) -> list[Callable[[bool], Any]]:
        return [
            m.test_time_augmentation
            for m in model.modules()
            if callable(getattr(m, "test_time_augmentation", None))
        ]

    def enable(self, model: torch.nn.Module) -> None:
        hooks = self.hooks(model)
        if not hooks:
            raise EvaluationError(
                f"tta method 'model' needs a module with test_time_augmentation(enabled); "
                f"{type(model).__name__} has none"
            )
        for hook in hooks:
            hook(True)

    def disable(self, model: torch.nn.Module) -> None:
        for hook in self.hooks(model):
            hook(False)


TTA_KEYS = {
    "input": {"specaugment", "time_shift", "shift_mode", "freq_shift"},
    "model": set(),
}


def build_tta(
    settings: EvaluationSettings, recipe: TrainingRecipe | None = None
) -> TestTimeAugmentation | ModelTestTimeAugmentation | None:
    """The TTA a system's ``evaluation`` settings ask for, or None for a single plain pass."""
    params = dict(settings.tta_params)
    method = params.pop("method", "input")
    if method not in TTA_KEYS:
        raise EvaluationError(f"unknown tta method {method!r}; use 'input' or 'model'")
    params.pop("description", None)
    seed = params.pop("seed", None)
    if seed is not None and not isinstance(seed, int):
        raise EvaluationError(f"tta_params.seed must be an integer, got {seed!r}")
    unknown = sorted(set(params) - TTA_KEYS[method])
    if unknown:
        accepted = ", ".join(sorted(TTA_KEYS[method] | {"method", "seed", "description"}))
        raise EvaluationError(
            f"tta_params {', '.join(unknown)} not understood with method {method!r}; "
            f"accepted: {accepted}"
        )
    if settings.tta_passes == 1:
        return None
    if method == "model":
        return ModelTestTimeAugmentation(seed)
    spec: Any = params.get("specaugment", False)
    if spec is True:
        if recipe is None or recipe.specaugment is None:
            raise EvaluationError(
                "tta_params.specaugment is true but the recipe has no specaugment"
            )
        spec = recipe.specaugment
    elif isinstance(spec, Mapping):
        try:
            spec = SpecAugment(**spec)
        except ValidationError as exc:
            raise EvaluationError(f"tta_params.specaugment {describe_problem(exc)}") from exc
    elif spec is False or spec is None:
        spec = None
    else:
        raise EvaluationError("tta_params.specaugment must be true, false or a mapping")
    if spec is None and not params.get("time_shift") and not params.get("freq_shift"):
        raise EvaluationError(
            f"tta_passes is {settings.tta_passes} but tta_params names no augmentation "
            "(specaugment, time_shift, freq_shift, or method 'model')"
        )
    return TestTimeAugmentation(
        spec,
        float(params.get("time_shift", 0.0)),
        str(params.get("shift_mode", "roll")),
        int(params.get("freq_shift", 0)),
        seed,
    )


def _scores(p: np.ndarray, y: np.ndarray, names: Sequence[str], eps: float) -> dict[str, Any]:
    acc = class_accuracies(predicted_classes(p), y, len(names))
    ll = class_log_losses(p, y, eps)
    class_wise = {
        name: {"accuracy": float(acc[k]), "log_loss": float(ll[k]), "n": float((y == k).sum())}
        for k, name in enumerate(names)
        if not np.isnan(acc[k])
    }
    return {
        "accuracy": macro_accuracy(p, y),
        "log_loss": macro_log_loss(p, y, eps),
        "class_wise": class_wise,
        "ece": expected_calibration_error(p, y, ECE_BINS),
        "predictions": summarize_predictions(p, y, names),
    }


def _checked_device(
    data: ClipData,
    device: str | torch.device,
    batch_size: int,
    tta_passes: int,
    tta: TTAFunction | None,
) -> torch.device:
    """Check :func:`predict`'s arguments; the device to run on."""
    try:
        check_data(data, "evaluation")
        dev = resolve_device(device)
    except TrainingError as exc:
        raise EvaluationError(str(exc)) from exc
    if batch_size < 1 or tta_passes < 1:
        raise EvaluationError(
            f"batch_size and tta_passes must be >= 1, got {batch_size}, {tta_passes}"
        )
    if tta_passes > 1 and tta is None:
        raise EvaluationError(f"tta_passes is {tta_passes} but no test-time augmentation was given")
    return dev


@contextmanager
def _prediction_mode(
    model: torch.nn.Module,
    dev: torch.device,
    seed: int,
    model_tta: ModelTestTimeAugmentation | None,
) -> Iterator[None]:
    """The model on ``dev`` in eval mode (with its TTA hooks on) and torch's RNG seeded with
    ``seed``, for a block; the model's mode, its hooks and the caller's RNG are restored."""
    was_training = model.training
    model.to(dev).eval()
    fork_devices = [dev.index or 0] if dev.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            if model_tta is not None:
                model_tta.enable(model)
            yield
    finally:
        if model_tta is not None:
            model_tta.disable(model)
        model.train(was_training)


def clip_seed(seed: int, clip: str, tta_pass: int) -> int:
    """The seed of one TTA pass over one clip: a function of the evaluation's ``seed``, the
    clip's name (its path in the dataset) and the pass number only, so a clip gets the same
    augmentations whatever the batch it is in, the batch size or the order of the clips."""
    digest = hashlib.blake2b(f"{seed}\0{clip}\0{tta_pass}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _batch_probabilities(
    model: torch.nn.Module,
    x: torch.Tensor,
    tta: TTAFunction | None,
    passes: int,
    seed: int,
    clips: Sequence[str],
    devices: Sequence[str] = (),
) -> np.ndarray:
    """Softmax of the model on ``x`` averaged over ``passes``. With input TTA each clip is
    augmented with its own generator (:func:`clip_seed`) and the batch runs at once; with the
    model's own TTA (torch's RNG inside the model) each clip runs alone after seeding torch
    with its seed. A model with one model per device gets the clips' ``devices``."""
    total = None
    for tta_pass in range(passes):
        if tta is None:
            out = forward_with_devices(model, x, devices)
        elif isinstance(tta, ModelTestTimeAugmentation):
            outs = []
            for i, clip in enumerate(clips):
                torch.manual_seed(clip_seed(seed, clip, tta_pass))
                outs.append(forward_with_devices(model, x[i : i + 1], devices[i : i + 1]))
            tensors = all(isinstance(o, torch.Tensor) for o in outs)
            out = torch.cat(outs) if outs and tensors else None
        else:
            augmented = [
                tta(x[i : i + 1], np.random.default_rng(clip_seed(seed, clip, tta_pass)))
                for i, clip in enumerate(clips)
            ]
            out = forward_with_devices(model, torch.cat(augmented), devices)
        if not isinstance(out, torch.Tensor) or out.ndim != 2:
            raise EvaluationError("the model must return logits of shape (batch, classes)")
        # softmax in float64 on the CPU (MPS has no float64)
        p = torch.softmax(out.detach().to("cpu", torch.float64), dim=1)
        total = p if total is None else total + p
    assert total is not None
    return (total / passes).numpy()


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    data: ClipData,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    tta_passes: int = 1,
    tta: TTAFunction | None = None,
    seed: int = 0,
    progress: bool = False,
    description: str = "",
) -> Predictions:
    """Softmax probabilities for every clip, averaged over ``tta_passes`` augmented passes.

    ``tta`` is only used when ``tta_passes > 1``. The TTA's own ``seed`` attribute, when set,
    overrides ``seed``. The model's mode is restored afterwards, and so is torch's RNG.
    """
    dev = _checked_device(data, device, batch_size, tta_passes, tta)
    own_seed = getattr(tta, "seed", None)
    seed = own_seed if own_seed is not None else seed
    tta = tta if tta_passes > 1 else None
    model_tta = tta if isinstance(tta, ModelTestTimeAugmentation) else None
    n = len(data)
    probs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    devices: list[str] = []
    filenames: list[str] = []
    with _prediction_mode(model, dev, seed, model_tta):
        for start in progress_bar(
            range(0, n, batch_size),
            desc=description or "evaluating",
            unit="batch",
            leave=False,
            disable=None if progress else True,
        ):
            batch = load_batch(data, list(range(start, min(start + batch_size, n))))
            x = batch.features.to(dev)
            probs.append(_batch_probabilities(
                model, x, tta, tta_passes, seed, batch.filenames, batch.devices
            ))  # fmt: skip
            labels.append(batch.labels.cpu().numpy())
            devices.extend(batch.devices)
            filenames.extend(batch.filenames)
    return Predictions(
        filenames=filenames,
        probabilities=np.concatenate(probs),
        labels=np.concatenate(labels).astype(np.int64),
        devices=devices,
    )


def score_predictions(
    preds: Predictions,
    *,
    tta_passes: int = 1,
    evaluators: Mapping[str, Any] | None = None,
    eps: float = LOG_LOSS_EPS,
) -> EvaluationResult:
    """The :class:`EvaluationResult` of ``preds`` over ``preds.classes`` (see :func:`evaluate`)."""
    p, y = preds.probabilities, preds.labels
    if p.shape[1] != len(preds.classes):
        raise EvaluationError(
            f"the model returns {p.shape[1]} classes but {len(preds.classes)} are expected"
        )
    unlabelled = y < 0
    if unlabelled.all():
        return EvaluationResult(
            accuracy=None,
            log_loss=None,
            n_clips=len(y),
            labelled=False,
            tta_passes=tta_passes,
            log_loss_eps=eps,
        )
    if unlabelled.any():
        first = preds.filenames[int(np.argmax(unlabelled))]
        raise EvaluationError(
            f"{int(unlabelled.sum())} of {len(y)} clips have no label (first: {first!r}); "
            "evaluate labelled and unlabelled clips separately"
        )
    if y.max() >= len(preds.classes):
        raise EvaluationError(f"a label {int(y.max())} is outside the {len(preds.classes)} classes")
    scores = _scores(p, y, preds.classes, eps)
    device_metric = DeviceWise(preds.classes, eps)
    group_metric = DeviceGroups(preds.classes, eps)
    device_metric.update(p, y, preds.devices)
    group_metric.update(p, y, preds.devices)
    return EvaluationResult(
        accuracy=scores["accuracy"],
        log_loss=scores["log_loss"],
        class_wise=scores["class_wise"],
        device_wise=device_metric.per_device(),
        device_groups=group_metric.per_group(),
        ece=scores["ece"],
        predictions=scores["predictions"],
        n_clips=len(y),
        tta_passes=tta_passes,
        log_loss_eps=eps,
        extra=_extra_scores(evaluators or {}, p, y, preds.devices),
    )


def _extra_scores(
    evaluators: Mapping[str, Any], p: np.ndarray, y: np.ndarray, devices: list[str]
) -> dict[str, dict[str, float]]:
    extra: dict[str, dict[str, float]] = {}
    for name, metric in evaluators.items():
        metric.reset()
        metric.update(p, y, devices)
        extra[name] = {k: float(v) for k, v in metric.compute().items()}
    return extra


def evaluate(
    model: torch.nn.Module,
    data: ClipData,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    tta_passes: int = 1,
    tta: TTAFunction | None = None,
    seed: int = 0,
    evaluators: Mapping[str, Any] | None = None,
    classes: Sequence[str] = SCENES,
    eps: float = LOG_LOSS_EPS,
    progress: bool = False,
    description: str = "",
) -> tuple[EvaluationResult, Predictions]:
    """Score ``model`` on ``data``; returns the scores and the per-clip probabilities.

    ``evaluators`` maps names to extra metric objects (``update``/``compute``/``reset``, e.g.
    built from a system's ``evaluation.evaluators``); each is reset, fed every clip and its
    ``compute()`` stored in ``EvaluationResult.extra[name]``. On an unlabelled set (every label
    -1) the scores are None and extra evaluators are skipped.
    """
    preds = predict(
        model,
        data,
        batch_size=batch_size,
        device=device,
        tta_passes=tta_passes,
        tta=tta,
        seed=seed,
        progress=progress,
        description=description,
    )
    preds.classes = tuple(classes)
    result = score_predictions(preds, tta_passes=tta_passes, evaluators=evaluators, eps=eps)
    return result, preds
