"""The training loop: one system's recipe, under an epoch and/or wall-clock budget.

:func:`train` trains a model in place on :class:`~ascbench.training.data.ClipData` and returns
a :class:`TrainResult` with the per-epoch history. Per step it applies, in this order: random
time crop, random time/frequency shift, mixup, SpecAugment, then the loss (cross-entropy or
focal, label smoothing, optional distillation from a :class:`Teacher`). After training, the
model holds the weights to evaluate: the EMA weights when ``ema_decay`` is set, the best
validation epoch's when the recipe selects a checkpoint, else the last weights.

Runs are seeded and deterministic: the same seed gives bit-identical weights on CPU. Data
order and augmentations come from generators derived from ``seed`` (independent streams, so
switching an augmentation on does not change the data order); torch's global RNG (dropout)
is reseeded with ``seed`` at the start; deterministic algorithms are switched on for the run
and restored afterwards.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ascbench.clips import Batch, ClipData, check_data, iterate_batches, load_batch, resolve_device
from ascbench.evaluation.evaluate import evaluate
from ascbench.progress import bar as progress_bar
from ascbench.systems import TrainingRecipe
from ascbench.training.augment import mixup, random_shift, random_time_crop, spec_augment
from ascbench.training.ema import ModelEma
from ascbench.training.errors import RecipeError, TrainingDiverged, TrainingError
from ascbench.training.losses import distillation_loss, focal_loss, one_hot, soft_cross_entropy
from ascbench.training.optim import LrSchedule, build_optimizer, build_schedule
from ascbench.training.options import MEMORY_FORMATS, RecipeOptions
from ascbench.training.parts import NO_PARTS, TrainingParts
from ascbench.training.results import EpochRecord, TrainResult

__all__ = [
    "EpochRecord",
    "RecipeOptions",
    "Teacher",
    "TrainResult",
    "TrainingRun",
    "Validate",
    "augment_batch",
    "deterministic_algorithms",
    "frozen_parameters",
    "resolve_device",
    "run_epochs",
    "seed_everything",
    "train",
    "train_epoch",
    "train_step",
    "training_loss",
    "validation_callback",
]

#: A validation callback: the model to score -> ``(accuracy in percent, log loss)``.
Validate = Callable[[torch.nn.Module], tuple[float | None, float | None]]


# -- inputs ----------------------------------------------------------------------------------
@dataclass
class Teacher:
    """Knowledge-distillation targets: a teacher's logits for every training clip.

    ``logits[i]`` belongs to row ``i`` of the training data. The loss becomes
    ``(1 - weight)·L + weight·T²·KL(softmax(t/T) ‖ softmax(s/T))`` where ``L`` is the recipe's
    loss; under mixup the teacher's probabilities are mixed with the same weights as the labels.
    """

    logits: torch.Tensor
    temperature: float = 2.0
    weight: float = 0.5

    def probabilities(self) -> torch.Tensor:
        return F.softmax(torch.as_tensor(self.logits, dtype=torch.float32) / self.temperature, 1)


# -- environment ----------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA).

    Call it before building a model so that its initial weights are reproducible too.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def deterministic_algorithms(device: torch.device) -> Iterator[None]:
    """Switch on deterministic algorithms (warn-only) for a block; restore the old settings.

    Deterministic mode also makes torch fill every new tensor's memory with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``), a debugging aid that costs one
    extra write of every activation and gradient; no operation reads that memory, so the block
    switches the fill off: the same numbers, a pass over memory less per tensor.
    """
    fill = torch.utils.deterministic
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        fill.fill_uninitialized_memory,
    )
    if device.type == "cuda":
        # cuBLAS needs this to be deterministic; it only has an effect before cuBLAS starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    fill.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        torch.backends.cudnn.deterministic = previous[2]
        torch.backends.cudnn.benchmark = previous[3]
        fill.fill_uninitialized_memory = previous[4]


def frozen_parameters(
    model: torch.nn.Module, prefixes: list[str]
) -> list[tuple[str, torch.nn.Parameter]]:
    """Parameters whose name is a prefix or lies under it (``'conv1'`` → ``conv1.*``).

    Prefixes match whole dotted components: ``'conv1'`` does not match ``conv10.weight``. A
    prefix that matches nothing is an error, so a typo cannot silently train a layer.
    """
    named = list(model.named_parameters())
    chosen: dict[str, torch.nn.Parameter] = {}
    for prefix in prefixes:
        stem = prefix.rstrip(".")
        hits = [(n, p) for n, p in named if n == stem or n.startswith(stem + ".")]
        if not hits:
            tops = sorted({n.split(".")[0] for n, _ in named})
            raise RecipeError(
                f"frozen_layers entry {prefix!r} matches no parameter; "
                f"top-level names are {', '.join(tops[:12])}"
            )
        chosen.update(hits)
    return list(chosen.items())


def _infer_num_classes(model: torch.nn.Module, data: ClipData, device: torch.device) -> int:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(load_batch(data, [0]).features.to(device))
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise TrainingError(f"the model must return logits (batch, classes), got {shape}")
    return int(out.shape[1])


def _teacher_probabilities(teacher: Teacher, n: int, k: int) -> torch.Tensor:
    logits = torch.as_tensor(teacher.logits)
    if logits.ndim != 2 or logits.shape[0] != n or logits.shape[1] != k:
        raise TrainingError(
            f"teacher logits have shape {tuple(logits.shape)} but the training data has {n} "
            f"clips and the model {k} classes"
        )
    if not teacher.temperature > 0 or not 0 <= teacher.weight <= 1:
        raise TrainingError(
            f"teacher temperature must be > 0 and weight in [0, 1], got "
            f"{teacher.temperature} and {teacher.weight}"
        )
    if not torch.isfinite(logits).all():
        raise TrainingError("teacher logits hold NaN or inf values")
    return teacher.probabilities()


# -- augmentation and loss ----------------------------------------------------------------
def augment_batch(
    x: torch.Tensor,
    targets: list[torch.Tensor],
    recipe: TrainingRecipe,
    opts: RecipeOptions,
    rng: np.random.Generator,
    parts: TrainingParts = NO_PARTS,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The recipe's training augmentations in order: crop, shifts, mixup, SpecAugment, then
    the registered ones of ``parts`` (``recipe.augmentations``).

    ``targets`` are ``(B, K)`` soft labels (and teacher probabilities), mixed like ``x``.
    """
    if opts.time_crop is not None:
        x = random_time_crop(x, opts.time_crop, rng)
    if opts.time_shift > 0:
        x = random_shift(x, int(opts.time_shift * x.shape[-1]), -1, opts.shift_mode, rng)
    if opts.freq_shift > 0:
        x = random_shift(x, opts.freq_shift, -2, "nearest", rng)
    if recipe.mixup_alpha is not None:
        x, targets = mixup(x, targets, recipe.mixup_alpha, opts.mixup_mode, rng)
    if recipe.specaugment is not None:
        x = spec_augment(x, recipe.specaugment, rng)
    for augmentation in parts.augmentations:
        x, targets = augmentation(x, targets, rng)
    return x, targets


def training_loss(
    logits: torch.Tensor,
    targets: list[torch.Tensor],
    recipe: TrainingRecipe,
    teacher: Teacher | None,
) -> torch.Tensor:
    """Cross-entropy or focal loss on ``targets[0]``, plus distillation on ``targets[1]``."""
    if logits.ndim != 2 or logits.shape[1] != targets[0].shape[1]:
        raise TrainingError(
            f"the model returned {tuple(logits.shape)}, expected (batch, {targets[0].shape[1]})"
        )
    if recipe.loss == "focal":
        loss = focal_loss(logits, targets[0], recipe.focal_gamma)
    else:
        loss = soft_cross_entropy(logits, targets[0])
    if teacher is not None:
        loss = distillation_loss(
            logits, targets[0], targets[1], teacher.temperature, teacher.weight, loss
        )
    return loss


# -- one run ---------------------------------------------------------------------------------
@dataclass
class TrainingRun:
    """What the epoch loop and the step functions of one run read and update."""

    model: torch.nn.Module
    data: ClipData
    recipe: TrainingRecipe
    opts: RecipeOptions
    device: torch.device
    name: str
    num_classes: int
    teacher: Teacher | None
    teacher_probs: torch.Tensor | None
    frozen: list[tuple[str, torch.nn.Parameter]]
    optimizer: torch.optim.Optimizer
    schedule: LrSchedule
    ema: ModelEma | None
    order_rng: np.random.Generator
    aug_rng: np.random.Generator
    per_step: int
    result: TrainResult
    start: float
    num_workers: int = 0
    progress: bool = True
    is_frozen: bool = False
    parts: TrainingParts = NO_PARTS

    @property
    def scored(self) -> torch.nn.Module:
        """The module validation scores: the EMA copy when EMA is on, else the model."""
        return self.ema.module if self.ema is not None else self.model


class BestWeights:
    """Keeps the weights of the best epoch on validation data (``checkpoint='best_*'``)."""

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self.best: tuple[float, int, dict[str, torch.Tensor]] | None = None

    def offer(
        self, epoch: int, accuracy: float | None, log_loss: float | None, module: torch.nn.Module
    ) -> None:
        key = log_loss if self.checkpoint == "best_valid_loss" else -(accuracy or 0.0)
        if key is not None and (self.best is None or key < self.best[0]):
            self.best = (key, epoch, copy.deepcopy(module.state_dict()))


def validation_callback(
    valid: ClipData, batch_size: int, device: str | torch.device = "cpu"
) -> Validate:
    """A :data:`Validate` that scores a model on ``valid`` with :func:`evaluate`."""

    def validate(model: torch.nn.Module) -> tuple[float | None, float | None]:
        scores, _ = evaluate(model, valid, batch_size=batch_size, device=device, progress=False)
        return scores.accuracy, scores.log_loss

    return validate


def _steps_per_epoch(recipe: TrainingRecipe, opts: RecipeOptions, n: int) -> tuple[int, int]:
    """``(clips read per step, steps per epoch)``."""
    two_batches = recipe.mixup_alpha is not None and opts.mixup_mode == "two_batches"
    per_step = recipe.batch_size * (2 if two_batches else 1)
    steps = n // per_step if opts.drop_last else math.ceil(n / per_step)
    if steps == 0:
        raise RecipeError(
            f"{n} training clips are fewer than one batch of {per_step} with drop_last"
        )
    return per_step, steps


def start_run(
    model: torch.nn.Module,
    data: ClipData,
    recipe: TrainingRecipe,
    opts: RecipeOptions,
    device: torch.device,
    *,
    budget: int,
    seed: int,
    teacher: Teacher | None,
    cleanup: ExitStack,
    parts: TrainingParts = NO_PARTS,
) -> TrainingRun:
    """Seed, place and prepare the model, optimizer, schedule and EMA (in this order, which
    fixes the random draws); ``cleanup`` gets what to undo when the run ends."""
    seed_everything(seed)
    order_seq, aug_seq = np.random.SeedSequence(seed).spawn(2)
    model.to(device)
    if opts.memory_format != "contiguous":
        model.to(memory_format=MEMORY_FORMATS[opts.memory_format])
        cleanup.callback(lambda: model.to(memory_format=torch.contiguous_format))
    n = len(data)
    num_classes = _infer_num_classes(model, data, device)
    teacher_probs = _teacher_probabilities(teacher, n, num_classes) if teacher is not None else None
    frozen = frozen_parameters(model, recipe.frozen_layers)
    for _, p in frozen:
        p.requires_grad_(False)
    cleanup.callback(lambda: [p.requires_grad_(True) for _, p in frozen])
    optimizer = build_optimizer(model.parameters(), recipe)
    per_step, steps_per_epoch = _steps_per_epoch(recipe, opts, n)
    schedule = build_schedule(optimizer, recipe, budget, steps_per_epoch, parts.lr_schedule)
    ema = ModelEma(model, recipe.ema_decay) if recipe.ema_decay is not None else None
    result = TrainResult(
        epochs_planned=budget,
        epochs_completed=0,
        truncated=False,
        stop_reason="",
        seconds=0.0,
        steps=0,
        steps_per_epoch=steps_per_epoch,
        num_classes=num_classes,
        seed=seed,
        device=str(device),
        weights="last",
    )
    return TrainingRun(
        model, data, recipe, opts, device, "training", num_classes, teacher, teacher_probs,
        frozen, optimizer, schedule, ema, np.random.default_rng(order_seq),
        np.random.default_rng(aug_seq), per_step, result, time.perf_counter(),
        is_frozen=bool(frozen), parts=parts,
    )  # fmt: skip


# -- steps -----------------------------------------------------------------------------------
def _check_labels(batch: Batch, num_classes: int) -> None:
    labels = batch.labels
    bad = (labels < 0) | (labels >= num_classes)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise TrainingError(
            f"training clip {batch.filenames[i]!r} has label {int(labels[i])}, "
            f"outside 0..{num_classes - 1}"
        )


def step_inputs(run: TrainingRun, batch: Batch) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A batch's augmented features and targets (soft labels, teacher probabilities)."""
    _check_labels(batch, run.num_classes)
    targets = [one_hot(batch.labels, run.num_classes, run.recipe.label_smoothing).to(run.device)]
    if run.teacher_probs is not None:
        targets.append(run.teacher_probs[batch.indices].to(run.device))
    if run.parts.waveform_augmentations:  # features of augmented audio, not the cache's
        x, targets = run.parts.features_of(batch.filenames, batch.devices, targets, run.aug_rng)
        x = x.to(run.device)
    else:
        x = batch.features.to(run.device)
    x, targets = augment_batch(x, targets, run.recipe, run.opts, run.aug_rng, run.parts)
    if run.opts.memory_format != "contiguous" and x.ndim == 4:
        x = x.contiguous(memory_format=MEMORY_FORMATS[run.opts.memory_format])
    return x, targets


def train_step(run: TrainingRun, batch: Batch, epoch: int, step: int) -> tuple[float, int, float]:
    """One optimizer step on ``batch``; returns ``(loss, examples, learning rate)``."""
    x, targets = step_inputs(run, batch)
    lr = run.schedule.lr
    loss = training_loss(run.model(x), targets, run.recipe, run.teacher)
    value = float(loss.detach())
    if not math.isfinite(value):
        _diverged(run, f"loss became {value}", epoch, step, lr, x)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    run.schedule.step_batch()
    if run.ema is not None:
        run.ema.update(run.model)
    return value, int(x.shape[0]), lr


# -- the loop --------------------------------------------------------------------------------
def epoch_batches(run: TrainingRun) -> list[np.ndarray]:
    """The epoch's batches of row indices, in a fresh order drawn from the run's order stream."""
    n, per_step = len(run.data), run.per_step
    perm = run.order_rng.permutation(n)
    batches = [perm[i : i + per_step] for i in range(0, n, per_step)]
    if run.opts.drop_last:
        batches = [b for b in batches if len(b) == per_step]
    return batches


def train_epoch(run: TrainingRun, epoch: int, budget: int) -> EpochRecord:
    """One pass over the training data (``seconds`` is left for the caller to fill in)."""
    if run.is_frozen and run.opts.frozen_epochs is not None and epoch >= run.opts.frozen_epochs:
        for _, p in run.frozen:
            p.requires_grad_(True)
        run.is_frozen = False
    run.model.train()
    batches = epoch_batches(run)
    total_loss, clips, lr_first, lr_last = 0.0, 0, run.schedule.lr, run.schedule.lr
    bar = progress_bar(
        total=len(batches),
        desc=f"{run.name} {epoch + 1}/{budget}",
        unit="batch",
        leave=False,
        disable=None if run.progress else True,
    )
    try:
        for step, batch in enumerate(iterate_batches(run.data, batches, run.num_workers)):
            value, size, lr_last = train_step(run, batch, epoch, step)
            if step == 0:
                lr_first = lr_last
            total_loss += value * size
            clips += size
            run.result.steps += 1
            bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr_last:.2e}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    run.schedule.step_epoch()
    if not all(bool(torch.isfinite(p).all()) for p in run.model.parameters()):
        _diverged(run, "weights became NaN/inf", epoch, None, lr_last, None)
    return EpochRecord(
        epoch=epoch + 1,
        loss=total_loss / max(clips, 1),
        lr=lr_first,
        lr_last=lr_last,
        seconds=0.0,
        steps=len(batches),
        clips=clips,
        frozen=run.is_frozen,
    )


def run_epochs(
    run: TrainingRun,
    budget: int,
    max_minutes: float | None,
    validate: Validate | None,
    keep: BestWeights | None,
) -> None:
    """Train up to ``budget`` epochs, validating after each; stop early when out of time."""
    result = run.result
    for epoch in range(budget):
        epoch_start = time.perf_counter()
        record = train_epoch(run, epoch, budget)
        if validate is not None:
            record.valid_accuracy, record.valid_log_loss = validate(run.scored)
            if keep is not None:
                keep.offer(epoch + 1, record.valid_accuracy, record.valid_log_loss, run.scored)
        record.seconds = time.perf_counter() - epoch_start
        result.history.append(record)
        result.epochs_completed = epoch + 1
        elapsed = time.perf_counter() - run.start
        if max_minutes is not None and elapsed >= max_minutes * 60 and epoch + 1 < budget:
            result.truncated = True
            result.stop_reason = (
                f"time budget of {max_minutes:g} min reached after epoch {epoch + 1}/{budget}"
            )
            return
    result.stop_reason = f"completed {budget} epoch(s)"


def finish_run(run: TrainingRun, keep: BestWeights | None) -> None:
    """Leave the weights to evaluate in the model: the best epoch's, the EMA's or the last."""
    if keep is not None and keep.best is not None:
        run.model.load_state_dict(keep.best[2])
        run.result.weights = keep.checkpoint
        run.result.best_epoch = keep.best[1]
    elif run.ema is not None:
        run.ema.copy_to(run.model)
        run.result.weights = "ema"
    run.model.eval()
    run.result.seconds = time.perf_counter() - run.start


def _prepare(
    data: ClipData,
    valid: ClipData | None,
    validate: Validate | None,
    recipe: TrainingRecipe,
    epochs: int | None,
    max_minutes: float | None,
) -> tuple[int, RecipeOptions, str, list[str]]:
    """Check the inputs; ``(epoch budget, options, checkpoint, notes)``."""
    check_data(data, "training")
    if valid is not None:
        check_data(valid, "validation")
        if validate is not None:
            raise TrainingError("give train() validation data or a validate callback, not both")
    budget = recipe.epochs if epochs is None else int(epochs)
    if budget < 1:
        raise RecipeError(f"the epoch budget must be at least 1, got {epochs}")
    if max_minutes is not None and not max_minutes > 0:
        raise RecipeError(f"max_minutes must be positive, got {max_minutes}")
    opts = RecipeOptions.from_recipe(recipe)
    checkpoint = opts.checkpoint
    notes: list[str] = []
    if checkpoint != "last" and valid is None and validate is None:
        notes.append(f"checkpoint {checkpoint!r} needs validation data; kept the last weights")
        checkpoint = "last"
    return budget, opts, checkpoint, notes


def _fit_time_crop(data: ClipData, opts: RecipeOptions, notes: list[str]) -> RecipeOptions:
    """Drop a time crop for longer clips (e.g. 8 s of 10 s) on clips that are not longer."""
    if opts.time_crop is None:
        return opts
    frames = int(load_batch(data, [0]).features.shape[-1])
    if opts.time_crop < frames:
        return opts
    notes.append(
        f"time_crop of {opts.time_crop} frames not applied: the clips have only {frames} frames"
    )
    return dataclasses.replace(opts, time_crop=None)


def train(
    model: torch.nn.Module,
    train_data: ClipData,
    recipe: TrainingRecipe,
    *,
    epochs: int | None = None,
    max_minutes: float | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    description: str = "",
    valid: ClipData | None = None,
    teacher: Teacher | None = None,
    num_workers: int = 0,
    validate: Validate | None = None,
    parts: TrainingParts | None = None,
) -> TrainResult:
    """Train ``model`` in place with ``recipe`` and return the run's record.

    ``epochs`` is the budget (default ``recipe.epochs``) and the length of the lr schedule.
    ``max_minutes`` additionally stops the run at the end of the epoch during which the
    wall-clock budget runs out (``truncated`` is then true; the schedule still spans
    ``epochs``). ``valid`` is evaluated after every epoch (with the EMA weights when EMA is
    on); ``checkpoint='best_*'`` uses it, and without it keeps the last weights (said in
    ``notes``). ``validate``, instead of ``valid``, is any callback scoring a model
    (:data:`Validate`). ``parts`` are the recipe's registered augmentations and lr schedule,
    built (:func:`ascbench.build.build_training_parts`); a recipe that names some needs them.
    Raises :class:`TrainingDiverged` when the loss or the weights become
    NaN/inf. Frozen parameters get ``requires_grad`` back when the run ends, however it ends.
    """
    budget, opts, checkpoint, notes = _prepare(
        train_data, valid, validate, recipe, epochs, max_minutes
    )
    dev = resolve_device(device)
    opts = _fit_time_crop(train_data, opts, notes)
    if valid is not None:
        validate = validation_callback(valid, recipe.batch_size, dev)
    keep = BestWeights(checkpoint) if checkpoint != "last" else None
    with deterministic_algorithms(dev), ExitStack() as cleanup:
        run = start_run(
            model, train_data, recipe, opts, dev,
            budget=budget, seed=seed, teacher=teacher, cleanup=cleanup,
            parts=_checked_parts(recipe, parts),
        )  # fmt: skip
        run.name, run.progress, run.num_workers = description or "training", progress, num_workers
        run.result.max_minutes, run.result.notes = max_minutes, notes
        run_epochs(run, budget, max_minutes, validate, keep)
        finish_run(run, keep)
    return run.result


def _checked_parts(recipe: TrainingRecipe, parts: TrainingParts | None) -> TrainingParts:
    """``parts``, which must hold what ``recipe`` names (built from the registry)."""
    parts = parts or NO_PARTS
    if parts.count != len(recipe.augmentations) or (
        (recipe.lr_schedule is None) != (parts.lr_schedule is None)
    ):
        raise RecipeError(
            "the recipe names registered augmentations or an lr schedule that were not built; "
            "pass parts=ascbench.build.build_training_parts(registry, system)"
        )
    return parts


def _diverged(
    run: TrainingRun,
    what: str,
    epoch: int,
    step: int | None,
    lr: float,
    x: torch.Tensor | None,
) -> None:
    result = run.result
    result.diverged = True
    result.seconds = time.perf_counter() - run.start
    result.stop_reason = what
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    hint = "lower the learning rate or check the features"
    if x is not None and not bool(torch.isfinite(x).all()):
        hint = "the input features hold NaN/inf values; check the feature cache"
    raise TrainingDiverged(f"{run.name} diverged: {what} at {where} (lr {lr:.3g}); {hint}", result)
