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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from ascbench.progress import bar as progress_bar
from ascbench.systems import TrainingRecipe
from ascbench.training.augment import (
    MIXUP_MODES,
    mixup,
    random_shift,
    random_time_crop,
    spec_augment,
)
from ascbench.training.data import ClipData, check_data, iterate_batches, load_batch
from ascbench.training.ema import ModelEma
from ascbench.training.errors import (
    DeviceUnavailableError,
    RecipeError,
    TrainingDiverged,
    TrainingError,
)
from ascbench.training.losses import distillation_loss, focal_loss, one_hot, soft_cross_entropy
from ascbench.training.optim import build_optimizer, build_schedule, recipe_option

CHECKPOINTS = ("last", "best_valid_loss", "best_valid_accuracy")


# -- results ---------------------------------------------------------------------------------
class EpochRecord(BaseModel):
    """What happened in one epoch."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(description="1-based epoch number.")
    loss: float = Field(description="Mean training loss over the epoch's clips (after mixup).")
    lr: float = Field(description="Learning rate of the epoch's first step.")
    lr_last: float = Field(description="Learning rate of the epoch's last step.")
    seconds: float
    steps: int
    clips: int = Field(description="Training examples seen (after mixup pairing).")
    frozen: bool = Field(description="Whether the frozen_layers were frozen in this epoch.")
    valid_accuracy: float | None = Field(None, description="Macro-average accuracy, percent.")
    valid_log_loss: float | None = None


class TrainResult(BaseModel):
    """The record of one training run (the model itself is trained in place)."""

    model_config = ConfigDict(extra="forbid")

    epochs_planned: int = Field(description="Budgeted epochs; the schedule spans these.")
    epochs_completed: int
    truncated: bool = Field(description="Stopped before epochs_planned by the time budget.")
    stop_reason: str
    diverged: bool = False
    seconds: float
    steps: int
    steps_per_epoch: int
    num_classes: int
    seed: int
    device: str
    max_minutes: float | None = None
    weights: str = Field(description="Weights left in the model: 'last', 'ema' or 'best_*'.")
    best_epoch: int | None = None
    notes: list[str] = Field(default_factory=list, description="What the run had to adapt.")
    history: list[EpochRecord] = Field(default_factory=list)


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


@dataclass(frozen=True)
class RecipeOptions:
    """Recipe options beyond the current ``TrainingRecipe`` fields.

    Each is read from the field of the same name once ``TrainingRecipe`` has it, else from
    ``recipe.extra``.
    """

    mixup_mode: str = "batch"
    frozen_epochs: int | None = None
    time_crop: int | None = None
    time_shift: float = 0.0
    shift_mode: Literal["roll", "nearest"] = "roll"
    freq_shift: int = 0
    drop_last: bool = False
    checkpoint: str = "last"
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    memory_format: Literal["contiguous", "channels_last"] = "contiguous"

    @classmethod
    def from_recipe(cls, recipe: TrainingRecipe) -> RecipeOptions:
        values = {name: recipe_option(recipe, name, default) for name, default in _DEFAULTS.items()}
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        if self.mixup_mode not in MIXUP_MODES:
            raise RecipeError(
                f"mixup_mode {self.mixup_mode!r} is unknown; choose one of {', '.join(MIXUP_MODES)}"
            )
        if self.frozen_epochs is not None and (
            not isinstance(self.frozen_epochs, int) or self.frozen_epochs < 1
        ):
            raise RecipeError(
                f"frozen_epochs must be a positive integer, got {self.frozen_epochs!r}"
            )
        if self.time_crop is not None and (
            not isinstance(self.time_crop, int) or self.time_crop < 1
        ):
            raise RecipeError(
                f"time_crop must be a positive number of frames, got {self.time_crop!r}"
            )
        if not isinstance(self.time_shift, (int, float)) or not 0 <= self.time_shift <= 1:
            raise RecipeError(f"time_shift must be a fraction in [0, 1], got {self.time_shift!r}")
        if self.shift_mode not in ("roll", "nearest"):
            raise RecipeError(f"shift_mode must be 'roll' or 'nearest', got {self.shift_mode!r}")
        if not isinstance(self.freq_shift, int) or self.freq_shift < 0:
            raise RecipeError(f"freq_shift must be a non-negative integer, got {self.freq_shift!r}")
        if self.checkpoint not in CHECKPOINTS:
            raise RecipeError(
                f"checkpoint {self.checkpoint!r} is unknown; choose one of {', '.join(CHECKPOINTS)}"
            )
        if not isinstance(self.optimizer_params, dict):
            raise RecipeError("optimizer_params must be a mapping")
        if self.memory_format not in MEMORY_FORMATS:
            raise RecipeError(
                f"memory_format must be one of {', '.join(MEMORY_FORMATS)}, "
                f"got {self.memory_format!r}"
            )


_DEFAULTS: dict[str, Any] = {
    "mixup_mode": "batch",
    "frozen_epochs": None,
    "time_crop": None,
    "time_shift": 0.0,
    "shift_mode": "roll",
    "freq_shift": 0,
    "drop_last": False,
    "checkpoint": "last",
    "optimizer_params": {},
    "memory_format": "contiguous",
}

#: ``memory_format`` recipe option: the layout of 4-d weights and batches while training.
#: ``channels_last`` (NHWC) lets oneDNN use its blocked kernels without reordering; measured on
#: one core of an AVX2 EPYC (training step, CPU time): cao2021 1.4-1.9x, DCASE baselines 1.35x,
#: kim2021 1.4x, shao2022 1.1-1.15x faster; puy2021 1.7x slower (dilated depthwise
#: convolutions) and verbitskiy2021 crashes in torch 2.13 (heap corruption), hence opt-in per
#: recipe. Sums run in another order, so the numbers differ from ``contiguous`` (still the same
#: from run to run). The model is given back in the contiguous layout.
MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


# -- environment -----------------------------------------------------------------------------
def resolve_device(device: str | torch.device) -> torch.device:
    """``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'``; a one-line error if unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise DeviceUnavailableError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {device!r} was asked for but CUDA is not available to torch "
                f"{torch.__version__}; use --device cpu or install a CUDA build of torch"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceUnavailableError(
                f"device {device!r} was asked for but MPS is not available"
            )
    elif dev.type != "cpu":
        raise DeviceUnavailableError(f"device type {dev.type!r} is not supported; use cpu or cuda")
    return dev


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


# -- one step --------------------------------------------------------------------------------
def augment_batch(
    x: torch.Tensor,
    targets: list[torch.Tensor],
    recipe: TrainingRecipe,
    opts: RecipeOptions,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The recipe's training augmentations in order: crop, shifts, mixup, SpecAugment.

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


# -- the loop --------------------------------------------------------------------------------
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
) -> TrainResult:
    """Train ``model`` in place with ``recipe`` and return the run's record.

    ``epochs`` is the budget (default ``recipe.epochs``) and the length of the lr schedule.
    ``max_minutes`` additionally stops the run at the end of the epoch during which the
    wall-clock budget runs out (``truncated`` is then true; the schedule still spans
    ``epochs``). ``valid`` is evaluated after every epoch (with the EMA weights when EMA is
    on); ``checkpoint='best_*'`` uses it, and without it keeps the last weights (said in
    ``notes``). Raises :class:`TrainingDiverged` when the loss or the weights become NaN/inf.
    Frozen parameters get ``requires_grad`` back when the run ends, however it ends.
    """
    check_data(train_data, "training")
    if valid is not None:
        check_data(valid, "validation")
    budget = recipe.epochs if epochs is None else int(epochs)
    if budget < 1:
        raise RecipeError(f"the epoch budget must be at least 1, got {epochs}")
    if max_minutes is not None and not max_minutes > 0:
        raise RecipeError(f"max_minutes must be positive, got {max_minutes}")
    opts = RecipeOptions.from_recipe(recipe)
    checkpoint = opts.checkpoint
    notes: list[str] = []
    if checkpoint != "last" and valid is None:
        notes.append(f"checkpoint {checkpoint!r} needs validation data; kept the last weights")
        checkpoint = "last"
    dev = resolve_device(device)
    name = description or "training"
    n = len(train_data)
    if opts.time_crop is not None and n:
        frames = int(load_batch(train_data, [0]).features.shape[-1])
        if opts.time_crop >= frames:  # a crop for longer clips (e.g. 8 s of 10 s) on short ones
            notes.append(
                f"time_crop of {opts.time_crop} frames not applied: the clips have only "
                f"{frames} frames"
            )
            opts = dataclasses.replace(opts, time_crop=None)

    with deterministic_algorithms(dev), ExitStack() as cleanup:
        seed_everything(seed)
        order_seq, aug_seq = np.random.SeedSequence(seed).spawn(2)
        order_rng, aug_rng = np.random.default_rng(order_seq), np.random.default_rng(aug_seq)

        model.to(dev)
        layout = MEMORY_FORMATS[opts.memory_format]
        if opts.memory_format != "contiguous":
            model.to(memory_format=layout)
            cleanup.callback(lambda: model.to(memory_format=torch.contiguous_format))
        num_classes = _infer_num_classes(model, train_data, dev)
        teacher_probs = (
            _teacher_probabilities(teacher, n, num_classes) if teacher is not None else None
        )
        frozen = frozen_parameters(model, recipe.frozen_layers)
        for _, p in frozen:
            p.requires_grad_(False)
        cleanup.callback(lambda: [p.requires_grad_(True) for _, p in frozen])
        is_frozen = bool(frozen)
        optimizer = build_optimizer(model.parameters(), recipe)

        two_batches = recipe.mixup_alpha is not None and opts.mixup_mode == "two_batches"
        per_step = recipe.batch_size * (2 if two_batches else 1)
        steps_per_epoch = n // per_step if opts.drop_last else math.ceil(n / per_step)
        if steps_per_epoch == 0:
            raise RecipeError(
                f"{n} training clips are fewer than one batch of {per_step} with drop_last"
            )
        schedule = build_schedule(optimizer, recipe, budget, steps_per_epoch)
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
            device=str(dev),
            max_minutes=max_minutes,
            weights="last",
            notes=notes,
        )
        best: tuple[float, int, dict[str, torch.Tensor]] | None = None
        start = time.perf_counter()

        for epoch in range(budget):
            if is_frozen and opts.frozen_epochs is not None and epoch >= opts.frozen_epochs:
                for _, p in frozen:
                    p.requires_grad_(True)
                is_frozen = False
            epoch_start = time.perf_counter()
            model.train()
            perm = order_rng.permutation(n)
            batches = [perm[i : i + per_step] for i in range(0, n, per_step)]
            if opts.drop_last:
                batches = [b for b in batches if len(b) == per_step]
            total_loss, clips, lr_first, lr_last = 0.0, 0, schedule.lr, schedule.lr
            bar = progress_bar(
                total=len(batches),
                desc=f"{name} {epoch + 1}/{budget}",
                unit="batch",
                leave=False,
                disable=None if progress else True,
            )
            try:
                for step, batch in enumerate(iterate_batches(train_data, batches, num_workers)):
                    x = batch.features.to(dev)
                    labels = batch.labels
                    bad = (labels < 0) | (labels >= num_classes)
                    if bool(bad.any()):
                        i = int(bad.nonzero()[0, 0])
                        raise TrainingError(
                            f"training clip {batch.filenames[i]!r} has label {int(labels[i])}, "
                            f"outside 0..{num_classes - 1}"
                        )
                    targets = [one_hot(labels, num_classes, recipe.label_smoothing).to(dev)]
                    if teacher_probs is not None:
                        targets.append(teacher_probs[batch.indices].to(dev))
                    x, targets = augment_batch(x, targets, recipe, opts, aug_rng)
                    if opts.memory_format != "contiguous" and x.ndim == 4:
                        x = x.contiguous(memory_format=layout)

                    lr_last = schedule.lr
                    if step == 0:
                        lr_first = lr_last
                    loss = training_loss(model(x), targets, recipe, teacher)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        _diverged(
                            result, start, name, f"loss became {value}", epoch, step, lr_last, x
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step_batch()
                    if ema is not None:
                        ema.update(model)
                    total_loss += value * x.shape[0]
                    clips += x.shape[0]
                    result.steps += 1
                    bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr_last:.2e}", refresh=False)
                    bar.update(1)
            finally:
                bar.close()
            schedule.step_epoch()
            if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
                _diverged(result, start, name, "weights became NaN/inf", epoch, None, lr_last, None)

            record = EpochRecord(
                epoch=epoch + 1,
                loss=total_loss / max(clips, 1),
                lr=lr_first,
                lr_last=lr_last,
                seconds=0.0,
                steps=len(batches),
                clips=clips,
                frozen=is_frozen,
            )
            if valid is not None:
                from ascbench.evaluation.evaluate import evaluate

                evaluated = ema.module if ema is not None else model
                scores, _ = evaluate(
                    evaluated, valid, batch_size=recipe.batch_size, device=dev, progress=False
                )
                record.valid_accuracy = scores.accuracy
                record.valid_log_loss = scores.log_loss
                if checkpoint != "last":
                    key = (
                        scores.log_loss
                        if checkpoint == "best_valid_loss"
                        else -(scores.accuracy or 0.0)
                    )
                    if key is not None and (best is None or key < best[0]):
                        state = copy.deepcopy(evaluated.state_dict())
                        best = (key, epoch + 1, state)
            record.seconds = time.perf_counter() - epoch_start
            result.history.append(record)
            result.epochs_completed = epoch + 1

            elapsed = time.perf_counter() - start
            if max_minutes is not None and elapsed >= max_minutes * 60 and epoch + 1 < budget:
                result.truncated = True
                result.stop_reason = (
                    f"time budget of {max_minutes:g} min reached after epoch {epoch + 1}/{budget}"
                )
                break

        if not result.truncated:
            result.stop_reason = f"completed {budget} epoch(s)"
        if best is not None:
            model.load_state_dict(best[2])
            result.weights = checkpoint
            result.best_epoch = best[1]
        elif ema is not None:
            ema.copy_to(model)
            result.weights = "ema"
        model.eval()
        result.seconds = time.perf_counter() - start
    return result


def _diverged(
    result: TrainResult,
    start: float,
    name: str,
    what: str,
    epoch: int,
    step: int | None,
    lr: float,
    x: torch.Tensor | None,
) -> None:
    result.diverged = True
    result.seconds = time.perf_counter() - start
    result.stop_reason = what
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    hint = "lower the learning rate or check the features"
    if x is not None and not bool(torch.isfinite(x).all()):
        hint = "the input features hold NaN/inf values; check the feature cache"
    raise TrainingDiverged(f"{name} diverged: {what} at {where} (lr {lr:.3g}); {hint}", result)
