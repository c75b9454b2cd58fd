"""The stages of one job, each a function with typed inputs and outputs:

    features (audio -> cached features) -> fit (train, or load weights) -> compress (the
    system's chain, each stage scored) -> score (the final model on the test split, with TTA)
    -> outcome (what the leaderboard entry records)

:func:`ascbench.jobs.job.run_job` calls them in this order. Every stage reads a
:class:`JobContext` (the job, its system, settings and dataset, the artifact store and the notes
the entry will carry) and what the stage before it returned.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ascbench.jobs.artifacts import ArtifactStore, load_trained, save_trained
from ascbench.jobs.plan import (
    DEFAULT_EPOCHS,
    DEFAULT_MACS_PER_SECOND,
    EVAL_BATCH,
    Job,
    RunError,
    RunSettings,
    default_epochs,
    teachers_of,
    training_identity,
)
from ascbench.text import count

if TYPE_CHECKING:
    import torch

    from ascbench.build import BuiltSystem
    from ascbench.plugins import Registry
    from ascbench.systems import System

#: Share of each scene's training recording locations held out as validation data when a
#: recipe selects its checkpoint on validation data (``checkpoint: best_*``, e.g. Cao's best
#: accuracy and Kim's lowest loss): at least one location per scene that has two or more.
VALID_FRACTION = 0.15


@dataclass
class JobContext:
    """What every stage of one job reads."""

    job: Job
    system: System
    registry: Registry
    settings: RunSettings
    dataset: Any
    artifacts: ArtifactStore
    #: lines the entry's complexity report carries (``flags``), added by the stages
    notes: list[str] = field(default_factory=list)
    #: the recipe's registered augmentations and lr schedule, built with the system
    training_parts: Any = None

    def say(self, message: str) -> None:
        """A status line on stderr, between progress bars when they are shown."""
        from tqdm import tqdm

        tqdm.write(f"[{self.system.name} seed {self.job.seed}] {message}", file=sys.stderr)


# -- features ------------------------------------------------------------------------------------
@dataclass
class Features:
    """The job's feature sets: the training and test splits through the system's frontend."""

    train: Any
    test: Any

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])


def extract_features(ctx: JobContext, frontend) -> Features:
    """Both splits through ``frontend``, from the feature cache (filled on first use)."""
    from ascbench.features import features_for

    if abs(frontend.output_shape(ctx.dataset.clip_seconds)[-1]) == 0:
        raise RunError(f"system '{ctx.system.name}': its frontend yields no frames for these clips")
    ctx.say("features")
    settings = ctx.settings
    split = {
        name: features_for(
            ctx.dataset,
            name,
            frontend,
            cache_root=settings.cache_root,
            workers=settings.decode_threads,
            progress=settings.progress,
        )
        for name in ("train", "test")
    }
    return Features(train=split["train"], test=split["test"])


def with_training_audio(ctx: JobContext, parts):
    """``parts`` with the training split's audio when the recipe augments waveforms (the
    trainer then computes features on the fly; :mod:`ascbench.features.waveforms`)."""
    if parts is None or not parts.waveform_augmentations:
        return parts
    from ascbench.features.waveforms import load_audio_store

    names = ", ".join(type(a).__name__ for a in parts.waveform_augmentations)
    ctx.say(f"training audio for waveform augmentation ({names}); features computed per batch")
    audio = load_audio_store(ctx.dataset, "train", parts.frontend.sample_rate,
                             workers=ctx.settings.decode_threads,
                             progress=ctx.settings.progress)  # fmt: skip
    ctx.notes.append(
        f"waveform augmentation ({names}): training features computed per batch from "
        f"{len(audio):,} clips held in memory, not read from the feature cache"
    )
    return dataclasses.replace(parts, audio=audio)


# -- fit -----------------------------------------------------------------------------------------
def validation_rows(clips: Sequence[Any]) -> tuple[list[int], list[int]]:
    """``(train rows, validation rows)`` of a training split, location-disjoint.

    Per scene, the recording locations (TAU ``identifier``, e.g. ``barcelona-35``; a clip
    without one is its own location) are ordered by the SHA-256 of their name and the first
    ``VALID_FRACTION`` of them (at least one, never all) are held out. The choice depends only
    on the data, not on the seed or the system, so every system selects its checkpoint on the
    same clips, and never on the test split.
    """
    import hashlib
    import math

    by_scene: dict[str, dict[str, list[int]]] = {}
    for row, clip in enumerate(clips):
        location = getattr(clip, "identifier", None) or getattr(clip, "filename", str(row))
        scene = getattr(clip, "scene_label", None) or ""
        by_scene.setdefault(scene, {}).setdefault(location, []).append(row)
    held: set[int] = set()
    for locations in by_scene.values():
        if len(locations) < 2:
            continue
        order = sorted(locations, key=lambda loc: hashlib.sha256(loc.encode()).hexdigest())
        take = min(len(order) - 1, max(1, math.floor(VALID_FRACTION * len(order) + 0.5)))
        for location in order[:take]:
            held.update(locations[location])
    return [r for r in range(len(clips)) if r not in held], sorted(held)


@dataclass
class TrainingSplit:
    """What the model trains on, and the held-out part its checkpoint is selected on."""

    train: Any
    valid: Any = None


def split_for_validation(ctx: JobContext, features: Features) -> TrainingSplit:
    """The training clips, less held-out locations when the recipe selects its checkpoint on
    validation data (``checkpoint: best_*``) and the model is trained here."""
    from ascbench.clips import ClipSubset
    from ascbench.training.options import recipe_option

    clips = features.train
    checkpoint = recipe_option(ctx.system.recipe, "checkpoint")
    if checkpoint == "last" or ctx.settings.weights is not None:
        return TrainingSplit(clips)
    train_rows, valid_rows = validation_rows(ctx.dataset.splits["train"])
    if not valid_rows:
        return TrainingSplit(clips)
    ctx.notes.append(
        f"checkpoint {checkpoint!r} selected on {len(valid_rows)} training clips of "
        f"held-out recording locations (trained on the other {len(train_rows)}; never "
        "on the test split)"
    )
    return TrainingSplit(ClipSubset(clips, train_rows), ClipSubset(clips, valid_rows))


@dataclass
class Fitted:
    """The trained (or loaded) model and the epochs it was trained for."""

    model: torch.nn.Module
    epochs: int


def teacher_targets(ctx: JobContext, features: Features, split: TrainingSplit):
    """The distillation targets of a student, or None for a system that is not distilled: the
    stored outputs of its teacher (or the mean of its teachers' logits), or a logits file, on
    the training rows it trains on."""
    import torch

    from ascbench.clips import ClipSubset
    from ascbench.compressors import TeacherOutputs

    spec = ctx.system.recipe.distillation
    if spec is None:
        return None
    if spec.logits_file is not None:
        outputs = [TeacherOutputs.from_csv(Path(spec.logits_file).expanduser())]
    else:
        outputs = [_stored_teacher_outputs(ctx, name, features) for name in spec.teacher_systems]
    teacher = outputs[0].targets(spec, features.train.filenames)
    if len(outputs) > 1:
        aligned = [o.align(features.train.filenames) for o in outputs]
        teacher = dataclasses.replace(teacher, logits=torch.stack(aligned).mean(0))
    if isinstance(split.train, ClipSubset):
        rows = torch.as_tensor(split.train.rows)
        teacher = dataclasses.replace(teacher, logits=torch.as_tensor(teacher.logits)[rows])
    return teacher


def _stored_teacher_outputs(ctx: JobContext, name: str, features: Features):
    from ascbench.compressors import TeacherOutputs

    path = ctx.artifacts.teacher_outputs(name, ctx.job.seed)
    if not path.exists():
        raise RunError(
            f"{path}: the outputs of teacher '{name}' (seed {ctx.job.seed}) are missing; run "
            f"the teacher first (`ascbench run --system {name}`) or both together"
        )
    return TeacherOutputs.load(path, fingerprint=features_fingerprint(features.train))


def scheduled_epochs(ctx: JobContext, built: BuiltSystem, epochs: int) -> int:
    """The epochs the budget gives: the compute-matched default (``DEFAULT_EPOCHS`` epochs at
    ``DEFAULT_MACS_PER_SECOND``, from the model's counted MACs) unless --budget/--full."""
    from ascbench.complexity import measure

    if not ctx.settings.budget.is_default or ctx.settings.weights is not None:
        return epochs
    macs = measure(built.model, ctx.settings.ruleset, built.input_shape, reference=False).macs
    seconds = ctx.dataset.clip_seconds
    epochs = default_epochs(macs, seconds, ctx.system.recipe.epochs)
    ctx.notes.append(
        f"default budget: {count(epochs, 'epoch')}, the training compute of {DEFAULT_EPOCHS} "
        f"epochs at {DEFAULT_MACS_PER_SECOND / 1e6:g} M MACs per second of audio "
        f"(this model: {macs / 1e6 / seconds:.1f} M); --budget N or --full train longer"
    )
    return epochs


def trained_weights_path(ctx: JobContext, epochs: int, minutes: float | None):
    """Where this job's trained weights are kept, keyed by everything that determines them,
    so that systems differing only in their compressor chain train once."""
    import torch

    from ascbench import __version__

    return ctx.artifacts.trained_weights({
        "ascbench": __version__,
        "torch": torch.__version__,
        "dataset": ctx.dataset.fingerprint(),
        **training_identity(ctx.system),
        "seed": ctx.job.seed,
        "epochs": epochs,
        "minutes": minutes,
        "device": ctx.settings.device,
    })  # fmt: skip


def epochs_for_time(
    model: torch.nn.Module, clips, recipe, minutes: float, max_epochs: int, device: str, seed: int,
    parts=None,
) -> tuple[int, float]:
    """How many epochs of ``recipe`` fit in ``minutes``, timed on a copy of ``model`` over a
    few batches; returns ``(epochs, estimated seconds per epoch)``. The learning-rate schedule
    then spans those epochs, so it completes within the budget."""
    import copy

    from ascbench.clips import ClipSubset
    from ascbench.training import train

    n = min(len(clips), 4 * recipe.batch_size)
    start = time.perf_counter()
    train(
        copy.deepcopy(model), ClipSubset(clips, range(n)), recipe, epochs=1, seed=seed,
        device=device, progress=False, description="timing", parts=parts,
    )  # fmt: skip
    per_epoch = (time.perf_counter() - start) * len(clips) / n
    return max(1, min(max_epochs, int(minutes * 60 // max(per_epoch, 1e-6)))), per_epoch


def train_model(ctx, model, split: TrainingSplit, teacher, epochs: int, minutes) -> int:
    """Train ``model`` in place for the budget; returns the epochs completed."""
    from ascbench.training import train

    settings, system = ctx.settings, ctx.system
    if minutes is not None:
        epochs, per_epoch = epochs_for_time(
            model, split.train, system.recipe, minutes, epochs, settings.device, ctx.job.seed,
            ctx.training_parts,
        )
        ctx.notes.append(
            f"time budget {minutes:g} min: about {per_epoch:.1f} s per epoch measured, "
            f"{epochs} epochs scheduled (depends on the machine's speed)"
        )
    ctx.say(f"training {count(epochs, 'epoch')}")
    result = train(
        model, split.train, system.recipe, epochs=epochs,
        max_minutes=None if minutes is None else 1.5 * minutes, seed=ctx.job.seed,
        device=settings.device, progress=settings.progress, description=system.name,
        teacher=teacher, valid=split.valid, parts=ctx.training_parts,
    )  # fmt: skip
    ctx.notes.extend(f"training: {n}" for n in result.notes)
    if result.best_epoch is not None:
        ctx.notes.append(
            f"weights of epoch {result.best_epoch} of {result.epochs_completed} ({result.weights})"
        )
    if result.truncated:
        ctx.notes.append(f"training stopped by the time budget: {result.stop_reason}")
    return result.epochs_completed


def fit(
    ctx: JobContext,
    built: BuiltSystem,
    features: Features,
    split: TrainingSplit,
    epochs: int,
    minutes: float | None,
) -> Fitted:
    """Train the built model for the budget, reuse weights an earlier job trained the same
    way, or load ``--weights``; the model comes back on the CPU in eval mode."""
    from ascbench.build import check_logits

    check_logits(built, ctx.settings.ruleset.num_classes)
    model = built.model
    teacher = teacher_targets(ctx, features, split)
    epochs = scheduled_epochs(ctx, built, epochs)
    weights = ctx.settings.weights
    trained_path = trained_weights_path(ctx, epochs, minutes)
    if weights is None and trained_path.exists():
        epochs = load_trained(trained_path, model)
        ctx.notes.append(
            f"trained weights reused from {trained_path.name} (same data, frontend, model, "
            "recipe, seed and budget as an earlier job)"
        )
        ctx.say("reusing trained weights")
    elif weights is not None:
        epochs = 0
        ctx.notes.append(f"not trained: weights loaded from {weights}")
        ctx.say(f"weights from {weights}")
    else:
        epochs = train_model(ctx, model, split, teacher, epochs, minutes)
        if teacher is None:  # a distilled model depends on its teacher too: never shared
            save_trained(trained_path, model, ctx.system.name, epochs)
    return Fitted(model=model.cpu().eval(), epochs=epochs)


# -- compress and score --------------------------------------------------------------------------
@dataclass
class TestEvaluation:
    """Scores models on the job's test split: the chain's plain passes and the final one."""

    ctx: JobContext
    test: Any
    tta: Any
    evaluators: dict[str, Any]
    #: the last plain (one-pass) evaluation: ``(model, (scores, predictions))``
    last_plain: tuple[Any, Any] | None = None

    def run(self, model: torch.nn.Module, passes: int):
        from ascbench.evaluation import evaluate

        return evaluate(
            model, self.test, batch_size=EVAL_BATCH, device="cpu", tta_passes=passes,
            tta=self.tta if passes > 1 else None, seed=self.ctx.job.seed,
            evaluators=self.evaluators,
        )  # fmt: skip

    def plain_scores(self, model: torch.nn.Module) -> dict[str, float]:
        """One plain pass, as the chain scores each stage; kept, so that the final model of a
        system without TTA is not evaluated twice."""
        result, predictions = self.run(model, 1)
        self.last_plain = (model, (result, predictions))
        return {"accuracy": result.accuracy, "log_loss": result.log_loss}


def test_evaluation(ctx: JobContext, built: BuiltSystem, features: Features) -> TestEvaluation:
    from ascbench.evaluation import build_tta

    tta = build_tta(ctx.system.evaluation, ctx.system.recipe)
    return TestEvaluation(ctx, features.test, tta, built.evaluators)


@dataclass
class Compressed:
    """The model after the system's compressor chain, and the chain's stage records."""

    model: torch.nn.Module
    records: list
    #: with one model per device: each device model's chain records (``records`` are the
    #: general model's)
    device_records: dict[str, list] = field(default_factory=dict)


def finetune_epochs(recipe: Any, trained_epochs: int, full: bool) -> int:
    """Epochs a compressor's fine-tuning gets after ``trained_epochs`` of training: the
    recipe's ``extra['finetune_epochs']`` under ``--full``; under a shorter budget, the same
    share of the training epochs as in the recipe (CP-Mobile: 24 QAT epochs after 150, so 2
    after 10), at least 1. A recipe that states none fine-tunes for half the training epochs."""
    stated = recipe.extra.get("finetune_epochs")
    if stated is None:
        return max(1, trained_epochs // 2)
    if full:
        return int(stated)
    return max(1, round(trained_epochs * int(stated) / recipe.epochs))


def compression_context(
    ctx: JobContext,
    built: BuiltSystem,
    fitted: Fitted,
    features: Features,
    evaluate: Any,
    minutes: float | None,
):
    """The chain's context: calibration batches from the training split, fine-tuning by the
    recipe (half the training epochs, ``finetune_epochs`` with --full), ``evaluate`` per stage."""
    import torch

    from ascbench.compressors import CompressionContext
    from ascbench.training import train

    settings, system, seed = ctx.settings, ctx.system, ctx.job.seed

    def finetune(m: torch.nn.Module) -> torch.nn.Module:
        ft_epochs = finetune_epochs(system.recipe, fitted.epochs, settings.budget.full)
        recipe = system.recipe.model_copy(update={"frozen_layers": [], "frozen_epochs": None})
        train(
            m, features.train, recipe, epochs=ft_epochs, max_minutes=minutes, seed=seed,
            device=settings.device, progress=settings.progress,
            description=f"{system.name} fine-tune", parts=ctx.training_parts,
        )  # fmt: skip
        return m.cpu().eval()

    def calibration():
        generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(len(features.train), generator=generator)[:320].tolist()
        for start in range(0, len(order), 32):
            yield torch.stack([features.train[i][0] for i in order[start : start + 32]])

    return CompressionContext(
        calibration=calibration, finetune=finetune, evaluate=evaluate,
        ruleset=settings.ruleset, input_shape=built.input_shape, progress=ctx.say,
    )  # fmt: skip


def compress(
    ctx: JobContext,
    built: BuiltSystem,
    fitted: Fitted,
    features: Features,
    evaluation: TestEvaluation,
    minutes: float | None,
) -> Compressed:
    """Run the compressor chain on the fitted model, every stage measured and scored (one
    model per device: :func:`ascbench.jobs.device_models.compress_each`)."""
    from ascbench.compressors import run_chain

    context = compression_context(ctx, built, fitted, features, evaluation.plain_scores, minutes)
    if built.compressor_steps:
        ctx.say("compressing")
    model, records = run_chain(
        fitted.model, built.compressor_steps, context, ctx.settings.ruleset, built.input_shape
    )
    return Compressed(model=model, records=records)


@dataclass
class Scored:
    """The final model's scores on the test split and its per-clip predictions."""

    scores: Any
    predictions: Any


def score(ctx: JobContext, compressed: Compressed, evaluation: TestEvaluation) -> Scored:
    """The final model on the test split with the recipe's test-time augmentation (capped by
    the budget), reusing the chain's last plain pass when that already was the final one."""
    from ascbench.jobs.plan import tta_passes_for

    passes, note = tta_passes_for(ctx.settings, ctx.system.evaluation.tta_passes)
    if note:
        ctx.notes.append(note)
    plain = evaluation.last_plain
    if passes <= 1 and plain is not None and plain[0] is compressed.model:
        return Scored(*plain[1])
    ctx.say(f"evaluating ({passes} TTA passes)")
    return Scored(*evaluation.run(compressed.model, passes))


# -- teacher outputs and the outcome -------------------------------------------------------------
def features_fingerprint(features) -> str:
    """Identity of the training rows a teacher's outputs were computed on (names in order)."""
    import hashlib

    return hashlib.sha256("\n".join(features.filenames).encode()).hexdigest()[:16]


def has_students(system: System, registry: Registry) -> bool:
    """Whether any registered system distils from ``system``."""
    return any(system.name in teachers_of(s) for s in registry.systems())


def save_teacher_outputs(ctx: JobContext, model, features: Features) -> None:
    """A teacher's outputs on the training split, for its students to distil from."""
    import torch

    from ascbench.compressors import TeacherOutputs

    train = features.train

    def batches():
        for start in range(0, len(train), 64):
            rows = range(start, min(start + 64, len(train)))
            yield torch.stack([train[i][0] for i in rows]), [train.filenames[i] for i in rows]

    outputs = TeacherOutputs.from_model(
        model, batches(), fingerprint=features_fingerprint(train), teacher=ctx.system.name
    )
    outputs.save(ctx.artifacts.teacher_outputs(ctx.system.name, ctx.job.seed))


@dataclass
class JobOutcome:
    """What a finished job's entry records."""

    complexity: Any
    metrics: Any
    stages: list
    artifacts: dict[str, Any]
    epochs: int
    #: with one model per device: each model's complexity by device ('general' included)
    device_models: dict[str, Any] = field(default_factory=dict)


def outcome(ctx: JobContext, fitted: Fitted, compressed: Compressed, scored: Scored) -> JobOutcome:
    """Write the predictions file and gather the entry's complexity, metrics and stages."""
    from ascbench.atomic import atomic_write_text
    from ascbench.jobs.artifacts import save_state
    from ascbench.leaderboard import FileRef, Metrics, Stage
    from ascbench.leaderboard.entry import Compliance
    from ascbench.leaderboard.verify import truth_csv_text
    from ascbench.submission import write_output_csv

    ruleset = ctx.settings.ruleset
    last = compressed.records[-1].after  # the chain's last record measured the final model
    device_models = {}
    if compressed.device_records:
        device_models = {"general": last}
        device_models |= {d: r[-1].after for d, r in compressed.device_records.items()}
        largest, last = max(device_models.items(), key=lambda item: _size_rank(item[1]))
        ctx.notes.append(
            f"{len(device_models)} models (general and {len(device_models) - 1} devices), each "
            f"counted on its own; the entry shows the largest ({largest})"
        )
    stages = [
        Stage(
            name=r.name,
            params=r.params,
            complexity=r.after,
            compliance=Compliance.from_checks(
                [lim.check(getattr(r.after, lim.quantity)) for lim in ruleset.limits]
            ),
            metrics=Metrics.model_validate(r.metrics) if r.metrics else None,
        )
        for r in compressed.records
    ]
    path = ctx.artifacts.predictions(ctx.system.name, ctx.job.seed)
    predictions = scored.predictions
    write_output_csv(path, predictions.filenames, predictions.probabilities, keep_paths=True)
    truth = ctx.artifacts.truth(ctx.system.name, ctx.job.seed)
    atomic_write_text(truth, truth_csv_text(predictions.filenames, predictions.labels,
                                            predictions.devices))  # fmt: skip
    model_path = ctx.artifacts.final_model(ctx.system.name, ctx.job.seed)
    save_state(model_path, compressed.model)
    return JobOutcome(
        complexity=last.model_copy(update={"flags": [*last.flags, *ctx.notes]}),
        metrics=entry_metrics(scored.scores),
        stages=stages,
        artifacts={
            "predictions": FileRef.of(path, path.parent),
            "truth": FileRef.of(truth, truth.parent),
            "model": FileRef.of(model_path, model_path.parent),
        },
        epochs=fitted.epochs,
        device_models=device_models,
    )


def _size_rank(summary) -> tuple:
    """Orders device models: one failing a limit first, then by bytes, then by MACs."""
    return ({"fail": 2, "ambiguous": 1}.get(summary.status or "", 0), summary.bytes, summary.macs)


def entry_metrics(scores):
    """The leaderboard's Metrics from an EvaluationResult (clip counts dropped; the prediction
    summary kept as ``predictions``, the evidence for status 'degenerate')."""
    from ascbench.leaderboard import Metrics

    def table(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {
            k: {"accuracy": v["accuracy"], "log_loss": v["log_loss"]}
            for k, v in rows.items()
            if "accuracy" in v and "log_loss" in v
        }

    extra = {
        f"{name}.{key}": float(value)
        for name, values in scores.extra.items()
        for key, value in values.items()
    }
    return Metrics(
        accuracy=scores.accuracy,
        log_loss=scores.log_loss,
        class_wise=table(scores.class_wise),
        device_wise=table(scores.device_wise),
        device_groups=table(scores.device_groups),
        ece=scores.ece,
        extra=extra,
        predictions=scores.predictions.model_dump() if scores.predictions else None,
    )
