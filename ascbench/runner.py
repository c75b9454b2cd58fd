"""``ascbench run``: train, compress, evaluate and measure systems; write the leaderboard.

Data flows one way, one stage per module:

    audio (ascbench.data) -> features (ascbench.features) -> model (plugins) -> training
    (ascbench.training) -> compressor chain (ascbench.compressors) -> evaluation
    (ascbench.evaluation) -> complexity (ascbench.complexity) -> entry (ascbench.leaderboard)

Every (system, rule set, seed) is one :class:`Job`. :func:`run_job` runs one job from scratch
and returns its leaderboard entry, so that an executor on another machine can run it too.
:func:`run` hands the jobs of a command line to an executor (:mod:`ascbench.executors`: here,
in order or in worker processes, or on Ray), which runs teachers before their students, writes
each entry atomically as soon as it is finished and skips finished ones with ``resume``; a
failing job becomes a ``failed`` entry with its reason.
"""

from __future__ import annotations

import json
import re
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ascbench.errors import AscbenchError
from ascbench.plugins import Registry
from ascbench.rules import RuleSet
from ascbench.systems import System
from ascbench.training.optim import recipe_option

#: Without --budget or --full, each system gets the training compute of this many epochs of a
#: model at :data:`DEFAULT_MACS_PER_SECOND`: a model that costs more MACs per second of audio
#: trains for proportionally fewer epochs (at least one). The count comes from counted MACs,
#: not from timing, so the same seed gives the same numbers on any machine. Ten epochs of the
#: 900-clip default data is where every system that fits DCASE 2022 has left chance on its
#: learning curve (benchmarks/learning_curves.py; README, "The default budget, and why").
DEFAULT_EPOCHS = 10
#: The reference model cost of the default budget: the DCASE 2022 MAC limit (30 M MACs for a
#: 1-s clip), i.e. the cost of the baselines.
DEFAULT_MACS_PER_SECOND = 30e6
#: Without --full, test-time augmentation runs at most this many passes.
BUDGET_TTA_PASSES = 3
#: Clips per batch when a model is evaluated on the test split (on the CPU). Small batches keep
#: a memory-bound model's activations in cache: on one thread, SP4ASC takes 18 ms per 1-s clip
#: at 8 clips per batch against 27 ms at 64, Kim's CNN 13 against 16, Verbitskiy's mel160
#: 4.6 against 8.2; the small baselines are as fast at 8 as at 64 (0.77 against 0.82 ms).
EVAL_BATCH = 8


class RunError(AscbenchError):
    """A run cannot start as asked (bad budget, unknown teacher, ...)."""


@dataclass(frozen=True)
class Budget:
    """How long each system trains: ``epochs`` and/or ``minutes``, or the report's recipe
    (``full``)."""

    epochs: int | None = None
    minutes: float | None = None
    full: bool = False

    def for_recipe(self, recipe_epochs: int) -> tuple[int, float | None]:
        """``(epochs, minutes)`` for a recipe of ``recipe_epochs`` epochs. With a time budget,
        ``epochs`` is an upper bound that :func:`epochs_for_time` lowers to what fits."""
        if self.full:
            return recipe_epochs, None
        if self.epochs is None and self.minutes is None:
            return min(recipe_epochs, DEFAULT_EPOCHS), None
        if self.epochs is None:
            return recipe_epochs, self.minutes
        return min(self.epochs, recipe_epochs) if self.minutes else self.epochs, self.minutes

    @property
    def is_default(self) -> bool:
        """No --budget and no --full: the compute-matched default."""
        return not self.full and self.epochs is None and self.minutes is None

    def tta_passes(self, passes: int) -> int:
        return passes if self.full else min(passes, BUDGET_TTA_PASSES)


def default_epochs(macs: int, clip_seconds: float, recipe_epochs: int) -> int:
    """Epochs of the default budget for a model costing ``macs`` per clip of ``clip_seconds``:
    ``DEFAULT_EPOCHS`` epochs' worth of training at ``DEFAULT_MACS_PER_SECOND``, so that every
    system gets about the same training compute (the DCASE baselines 10 epochs, a model of
    twice their MACs 5), never more than the recipe's epochs and at least one."""
    per_second = macs / max(clip_seconds, 1e-9)
    fitting = int(DEFAULT_EPOCHS * DEFAULT_MACS_PER_SECOND // max(per_second, 1.0))
    return max(1, min(recipe_epochs, DEFAULT_EPOCHS, fitting))


def parse_budget(text: str | None, *, full: bool = False) -> Budget:
    """``--budget``: ``N`` (epochs), ``Nm``/``Ns``/``Nh`` (minutes per system), or both as
    ``N,Nm``. None means the default budget."""
    if full:
        if text:
            raise RunError("--full runs the report's own recipe; drop --budget or --full")
        return Budget(full=True)
    if not text:
        return Budget()
    epochs, minutes = None, None
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+(?:\.\d+)?)(m|min|s|h)?", part)
        if not m or (m.group(2) is None and "." in m.group(1)):
            raise RunError(
                f"--budget {text!r} is not understood; use epochs ('5'), a time per system "
                "('90s', '2m', '1h') or both ('5,2m')"
            )
        value, unit = float(m.group(1)), m.group(2)
        if unit is None:
            epochs = int(value)
        else:
            minutes = value * {"s": 1 / 60, "m": 1.0, "min": 1.0, "h": 60.0}[unit]
    if (epochs is not None and epochs < 1) or (minutes is not None and minutes <= 0):
        raise RunError(f"--budget {text!r} must be at least one epoch or a positive time")
    return Budget(epochs=epochs, minutes=minutes)


@dataclass
class RunSettings:
    """Everything a job needs besides the system and seed."""

    ruleset: RuleSet
    data: str | None = None
    budget: Budget = field(default_factory=Budget)
    device: str = "cpu"
    results: Path = Path("results")
    resume: bool = False
    progress: bool = True
    workers: int = 2
    cache_root: Path | None = None
    weights: Path | None = None
    #: torch intra-op threads per job (``--cpus-per-job``); float reductions depend on it, so
    #: the same count gives the same numbers. None: the executor's default (local: the cores
    #: divided by its number of parallel jobs).
    threads: int | None = None


@dataclass(frozen=True)
class Job:
    """One (system, seed) under the run's rule set."""

    system: str
    seed: int


def check_weights(systems: Sequence[System], weights: Path) -> None:
    """``--weights`` goes with exactly one system whose model takes a 'weights' parameter."""
    if len(systems) != 1:
        raise RunError("--weights needs exactly one --system (the one the weights belong to)")
    if "weights" not in systems[0].model.params:
        raise RunError(
            f"system '{systems[0].name}' takes no --weights (its model has no 'weights' "
            "parameter); drop --weights to train it"
        )
    if not weights.is_file():
        raise RunError(f"{weights}: weights file not found")


def teacher_of(system: System) -> str | None:
    """The name of the system whose outputs ``system`` is distilled from, if any."""
    spec = system.recipe.distillation
    return spec.teacher if spec is not None else None


def plan(systems: Sequence[System], seeds: Sequence[int], registry: Registry) -> list[Job]:
    """Jobs in an order where every teacher runs before its students (same seed).

    A student whose teacher was not selected brings its teacher along.
    """
    by_name = {s.name: s for s in systems}
    for system in list(systems):
        name = teacher_of(system)
        while name and name not in by_name:
            teacher = registry.system(name)
            by_name[name] = teacher
            name = teacher_of(teacher)
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise RunError(f"distillation cycle: {' -> '.join((*path, name))}")
        teacher = teacher_of(by_name[name])
        if teacher:
            visit(teacher, (*path, name))
        ordered.append(name)

    for name in by_name:
        visit(name, ())
    return [Job(name, seed) for seed in seeds for name in ordered]


# -- one job ------------------------------------------------------------------------------------
def epochs_for_time(
    model: torch.nn.Module, clips, recipe, minutes: float, max_epochs: int, device: str, seed: int
) -> tuple[int, float]:
    """How many epochs of ``recipe`` fit in ``minutes``, timed on a copy of ``model`` over a
    few batches; returns ``(epochs, estimated seconds per epoch)``. The learning-rate schedule
    then spans those epochs, so it completes within the budget."""
    import copy

    from ascbench.training import train

    batch = recipe.batch_size
    n = min(len(clips), 4 * batch)
    probe = _Subset(clips, range(n))
    start = time.perf_counter()
    train(
        copy.deepcopy(model), probe, recipe, epochs=1, seed=seed, device=device, progress=False,
        description="timing",
    )  # fmt: skip
    per_epoch = (time.perf_counter() - start) * len(clips) / n
    return max(1, min(max_epochs, int(minutes * 60 // max(per_epoch, 1e-6)))), per_epoch


class _Subset:
    def __init__(self, clips, rows):
        self.clips, self.rows = clips, list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.clips[self.rows[i]]

    def batch(self, indices):
        """The clips at ``indices`` of this subset; ``Batch.indices`` are the subset's rows."""
        from ascbench.training.data import collate, load_batch

        rows = [int(i) for i in indices]
        if not callable(getattr(self.clips, "batch", None)):
            return collate([self[i] for i in rows], rows)
        return load_batch(self.clips, [self.rows[i] for i in rows])._replace(
            indices=torch.as_tensor(rows, dtype=torch.long)
        )


class _Clips:
    """A feature set as the trainer's ClipData: ``(features, label, device, filename)``."""

    def __init__(self, features):
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int):
        x, label = self.features[i][:2]
        return x, label, self.features.devices[i], self.features.filenames[i]

    def batch(self, indices):
        """Many clips at once (one gather and one conversion), as the trainer reads them."""
        from ascbench.training.data import Batch

        rows = [int(i) for i in indices]
        return Batch(
            features=self.features.take(rows),
            labels=torch.tensor([int(self.features.labels[i]) for i in rows], dtype=torch.long),
            devices=[self.features.devices[i] for i in rows],
            filenames=[self.features.filenames[i] for i in rows],
            indices=torch.as_tensor(rows),
        )


#: Share of each scene's training recording locations held out as validation data when a
#: recipe selects its checkpoint on validation data (``checkpoint: best_*``, e.g. Cao's best
#: accuracy and Kim's lowest loss): at least one location per scene that has two or more.
VALID_FRACTION = 0.15


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


def over_fixed_limits(registry: Registry, system: System, ruleset: RuleSet) -> list[str]:
    """The rule set's parameter and MAC limits that ``system``'s untrained, uncompressed model
    exceeds, in words (empty: it can fit). Compression lowers bytes and non-zero counts, not
    the number of parameters or MACs, so a model over those limits cannot become compliant;
    the default ``ascbench run`` leaves such systems out (``--all`` keeps them)."""
    from ascbench.complexity import counted_tensors, measure, size_of
    from ascbench.profiling import build_frontend, build_model

    limits = [lim for lim in ruleset.limits if lim.quantity in ("parameters", "macs")]
    if not limits:
        return []
    shape = build_frontend(registry, system).output_shape(ruleset.clip_seconds)
    model = build_model(registry, system, shape, ruleset.num_classes)
    tensors = counted_tensors(model, ruleset.parameters)
    values = {"parameters": size_of(tensors, ruleset.parameters)[0]}
    over = [
        f"parameters {values['parameters']:,} > {lim.maximum:,}"
        for lim in limits
        if lim.quantity == "parameters" and lim.check(values["parameters"]).status == "fail"
    ]
    if over:  # tracing for MACs takes about a second; the answer is known
        return over
    values["macs"] = measure(model, ruleset, shape, reference=False).macs
    return [
        f"macs {values['macs']:,} > {lim.maximum:,}"
        for lim in limits
        if lim.quantity == "macs" and lim.check(values["macs"]).status == "fail"
    ]


def _say(settings: RunSettings, message: str) -> None:
    """A status line on stderr (between progress bars when they are shown)."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def job_entry(
    job: Job,
    registry: Registry,
    settings: RunSettings,
    *,
    started,
    budget=None,
    outcome: dict[str, Any] | None = None,
    error: str | None = None,
    dataset=None,
    torch_threads: int | None = None,
):
    """The leaderboard entry of ``job``: its ``outcome`` (or ``error``) with the provenance of
    this machine; ``budget`` defaults to the one the settings give the system's recipe, and
    ``torch_threads`` to this thread's count."""
    from ascbench.leaderboard import Budget, build_entry, collect_provenance

    system = registry.system(job.system)
    if budget is None:
        epochs, minutes = settings.budget.for_recipe(system.recipe.epochs)
        budget = Budget(full=settings.budget.full, epochs=epochs, minutes=minutes)
    provenance = collect_provenance(
        seed=job.seed,
        budget=budget,
        device=settings.device,
        started=started,
        dataset=dataset,
        plugin_versions={p.name: p.version for p in registry.plugins if p.version},
        torch_threads=torch_threads,
    )
    outcome = outcome or {}
    plugin = next((p for p in registry.plugins if p.name == system.plugin), None)
    return build_entry(
        system=system,
        ruleset=settings.ruleset,
        seed=job.seed,
        provenance=provenance,
        complexity=outcome.get("complexity"),
        metrics=outcome.get("metrics"),
        stages=outcome.get("stages"),
        artifacts=outcome.get("artifacts"),
        error=error,
        plugin_version=plugin.version if plugin else "",
    )


def _teacher_path(settings: RunSettings, teacher: str, seed: int) -> Path:
    return settings.results / settings.ruleset.name / teacher / f"seed{seed}.teacher.pt"


def run_job(job: Job, registry: Registry, settings: RunSettings, dataset=None):
    """Run one job from scratch and return its :class:`LeaderboardEntry` (never raises for a
    failure of the system itself: that becomes a ``failed`` entry with its reason)."""
    from ascbench.allocator import keep_freed_memory
    from ascbench.leaderboard import Budget as EntryBudget
    from ascbench.leaderboard import DatasetInfo, utc_now

    keep_freed_memory()  # large activations: reuse freed memory instead of fresh pages per op
    system = registry.system(job.system)
    started = utc_now()
    budget_epochs, budget_minutes = settings.budget.for_recipe(system.recipe.epochs)
    entry_budget = None  # a failed job: the budget it was given (job_entry's default)
    dataset_info = None
    outcome: dict[str, Any] = {}
    error = None
    try:
        if dataset is None:
            dataset = load_run_dataset(settings)
        dataset_info = DatasetInfo(
            name=dataset.name,
            fingerprint=dataset.fingerprint(),
            clips={k: len(v) for k, v in dataset.splits.items()},
        )
        outcome = _train_compress_evaluate(
            job, system, registry, settings, dataset, budget_epochs, budget_minutes
        )
        entry_budget = EntryBudget(
            full=settings.budget.full, epochs=outcome["epochs"], minutes=budget_minutes
        )
    except KeyboardInterrupt:
        raise
    except AscbenchError as exc:
        error = str(exc)
    except Exception as exc:  # a plugin's bug fails its own entry, not the run
        error = _describe_failure(exc, system, job, settings)
    return job_entry(
        job, registry, settings, started=started, budget=entry_budget, outcome=outcome,
        error=error, dataset=dataset_info,
    )  # fmt: skip


def _describe_failure(exc: BaseException, system: System, job: Job, settings: RunSettings) -> str:
    """One line naming the exception and the innermost ascbench or plugin frame; the full
    traceback goes to ``seed<k>.error.txt`` beside the entry."""
    from ascbench.atomic import atomic_write_text

    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "site-packages" not in f.filename or "ascbench" in f.filename]
    frame = (ours or frames)[-1]
    first = str(exc).splitlines()[0] if str(exc) else ""
    where = f"{Path(frame.filename).name}:{frame.lineno}"
    path = settings.results / settings.ruleset.name / system.name / f"seed{job.seed}.error.txt"
    try:
        atomic_write_text(path, "".join(traceback.format_exception(exc)))
        where += f"; traceback in {path}"
    except OSError:
        pass
    return f"{type(exc).__name__}: {first} ({where})"


def load_run_dataset(settings: RunSettings):
    from ascbench.data import load_dataset

    return load_dataset(
        settings.data, clip_seconds=settings.ruleset.clip_seconds, progress=settings.progress
    )


def _train_compress_evaluate(
    job: Job,
    system: System,
    registry: Registry,
    settings: RunSettings,
    dataset,
    epochs: int,
    minutes: float | None,
) -> dict[str, Any]:
    from ascbench.compressors import CompressionContext, build_steps, run_chain
    from ascbench.evaluation import build_tta, evaluate
    from ascbench.features import features_for
    from ascbench.leaderboard import FileRef, Metrics, Stage
    from ascbench.leaderboard.entry import Compliance
    from ascbench.profiling import build_frontend, build_model
    from ascbench.training import seed_everything, train

    ruleset = settings.ruleset
    frontend = build_frontend(registry, system)
    if abs(frontend.output_shape(dataset.clip_seconds)[-1]) == 0:
        raise RunError(f"system '{system.name}': its frontend yields no frames for these clips")
    _say(settings, f"[{system.name} seed {job.seed}] features")
    features = {
        split: features_for(
            dataset,
            split,
            frontend,
            cache_root=settings.cache_root,
            workers=settings.workers,
            progress=settings.progress,
        )
        for split in ("train", "test")
    }
    input_shape = tuple(features["train"].shape[1:])
    train_clips, valid_clips = _Clips(features["train"]), None
    notes: list[str] = []
    checkpoint = recipe_option(system.recipe, "checkpoint", "last")
    if checkpoint != "last" and settings.weights is None:
        train_rows, valid_rows = validation_rows(dataset.splits["train"])
        if valid_rows:
            train_clips = _Subset(train_clips, train_rows)
            valid_clips = _Subset(_Clips(features["train"]), valid_rows)
            notes.append(
                f"checkpoint {checkpoint!r} selected on {len(valid_rows)} training clips of "
                f"held-out recording locations (trained on the other {len(train_rows)}; never "
                "on the test split)"
            )
    seed_everything(job.seed)
    if settings.weights is not None:  # checked by check_weights() before the run
        system = system.model_copy(
            update={"model": system.model.model_copy(
                update={"params": {**system.model.params, "weights": str(settings.weights)}}
            )}
        )  # fmt: skip
    model = build_model(registry, system, input_shape, ruleset.num_classes)
    teacher = _teacher_targets(system, job, settings, features["train"])
    if teacher is not None and isinstance(train_clips, _Subset):
        teacher.logits = torch.as_tensor(teacher.logits)[train_clips.rows]
    if settings.budget.is_default and settings.weights is None:
        from ascbench.complexity import measure

        macs = measure(model, ruleset, input_shape, reference=False).macs
        epochs = default_epochs(macs, dataset.clip_seconds, system.recipe.epochs)
        notes.append(
            f"default budget: {epochs} epoch(s), the training compute of {DEFAULT_EPOCHS} "
            f"epochs at {DEFAULT_MACS_PER_SECOND / 1e6:g} M MACs per second of audio "
            f"(this model: {macs / 1e6 / dataset.clip_seconds:.1f} M); --budget N or --full "
            "train longer"
        )
    trained_path = _trained_path(settings, system, job, dataset, epochs, minutes)
    if settings.weights is None and trained_path.exists():
        model.load_state_dict(torch.load(trained_path, map_location="cpu", weights_only=True))
        epochs = int(json.loads(trained_path.with_suffix(".json").read_text())["epochs"])
        notes.append(
            f"trained weights reused from {trained_path.name} (same data, frontend, model, "
            "recipe, seed and budget as an earlier job)"
        )
        _say(settings, f"[{system.name} seed {job.seed}] reusing trained weights")
    elif settings.weights is not None:
        epochs = 0
        notes.append(f"not trained: weights loaded from {settings.weights}")
        _say(settings, f"[{system.name} seed {job.seed}] weights from {settings.weights}")
    else:
        if minutes is not None:
            epochs, per_epoch = epochs_for_time(
                model, train_clips, system.recipe, minutes, epochs,
                settings.device, job.seed,
            )  # fmt: skip
            notes.append(
                f"time budget {minutes:g} min: about {per_epoch:.1f} s per epoch measured, "
                f"{epochs} epochs scheduled (depends on the machine's speed)"
            )
        _say(settings, f"[{system.name} seed {job.seed}] training {epochs} epochs")
        result = train(
            model,
            train_clips,
            system.recipe,
            epochs=epochs,
            max_minutes=None if minutes is None else 1.5 * minutes,
            seed=job.seed,
            device=settings.device,
            progress=settings.progress,
            description=system.name,
            teacher=teacher,
            valid=valid_clips,
        )
        epochs = result.epochs_completed
        notes.extend(f"training: {n}" for n in result.notes)
        if result.best_epoch is not None:
            notes.append(f"weights of epoch {result.best_epoch} of {epochs} ({result.weights})")
        if result.truncated:
            notes.append(f"training stopped by the time budget: {result.stop_reason}")
        if teacher is None:  # a distilled model depends on its teacher too: never shared
            _save_trained(trained_path, model, system, epochs)
    model = model.cpu().eval()
    test = _Clips(features["test"])
    tta = build_tta(system.evaluation, system.recipe)

    def evaluate_on_test(m: torch.nn.Module, passes: int):
        return evaluate(
            m,
            test,
            batch_size=EVAL_BATCH,
            device="cpu",
            tta_passes=passes,
            tta=tta if passes > 1 else None,
            seed=job.seed,
            evaluators={
                r.name: registry.get("evaluator", r.name).build(**r.params)
                for r in system.evaluation.evaluators
            },
        )

    # The chain scores every stage with one plain pass; the last of these is the final
    # model's plain evaluation, kept so that a system without TTA is not evaluated twice.
    last_plain: dict[str, Any] = {}

    def score(m: torch.nn.Module) -> dict[str, float]:
        res, predictions = evaluate_on_test(m, 1)
        last_plain.update(model=m, result=(res, predictions))
        return {"accuracy": res.accuracy, "log_loss": res.log_loss}

    def finetune(m: torch.nn.Module) -> torch.nn.Module:
        ft_epochs = max(1, epochs // 2)
        if settings.budget.full:
            ft_epochs = int(system.recipe.extra.get("finetune_epochs", max(1, epochs // 2)))
        recipe = system.recipe.model_copy(update={"frozen_layers": [], "frozen_epochs": None})
        train(
            m, _Clips(features["train"]), recipe, epochs=ft_epochs, max_minutes=minutes,
            seed=job.seed, device=settings.device, progress=settings.progress,
            description=f"{system.name} fine-tune",
        )  # fmt: skip
        return m.cpu().eval()

    def calibration():
        generator = torch.Generator().manual_seed(job.seed)
        order = torch.randperm(len(features["train"]), generator=generator)[:320].tolist()
        for start in range(0, len(order), 32):
            yield torch.stack([features["train"][i][0] for i in order[start : start + 32]])

    resolve = {name: entry.factory for name, entry in registry.entries["compressor"].items()}
    steps = build_steps(system.compressors, resolve)
    context = CompressionContext(
        calibration=calibration,
        finetune=finetune,
        evaluate=score,
        ruleset=ruleset,
        input_shape=input_shape,
        progress=(lambda msg: _say(settings, f"[{system.name} seed {job.seed}] {msg}")),
    )
    if steps:
        _say(settings, f"[{system.name} seed {job.seed}] compressing")
    model, records = run_chain(model, steps, context, ruleset, input_shape)
    tta_passes = settings.budget.tta_passes(system.evaluation.tta_passes)
    if tta_passes < system.evaluation.tta_passes:
        notes.append(
            f"test-time augmentation: {tta_passes} of the recipe's "
            f"{system.evaluation.tta_passes} passes (budget; --full runs all)"
        )
    # the chain's last record measured the final model already
    last = records[-1].after
    final = last.model_copy(update={"flags": [*last.flags, *notes]})
    if tta_passes <= 1 and last_plain.get("model") is model:
        scores, predictions = last_plain["result"]
    else:
        _say(settings, f"[{system.name} seed {job.seed}] evaluating ({tta_passes} TTA passes)")
        scores, predictions = evaluate_on_test(model, tta_passes)
    if teacher_students(system, registry, settings):
        _save_teacher_outputs(model, system, job, settings, features["train"])
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
        for r in records
    ]
    from ascbench.leaderboard import ResultStore
    from ascbench.submission import write_output_csv

    store = ResultStore(settings.results)
    pred_path = store.predictions_path(system.name, ruleset.name, job.seed)
    write_output_csv(pred_path, predictions.filenames, predictions.probabilities, keep_paths=True)
    return {
        "complexity": final,
        "metrics": _metrics(scores),
        "stages": stages,
        "artifacts": {"predictions": FileRef.of(pred_path, pred_path.parent)},
        "epochs": epochs,
    }


def training_identity(system: System) -> dict[str, Any]:
    """What determines a system's trained weights besides data, seed, budget and machine: its
    plugin, frontend, model and recipe (not its compressors). Systems with the same identity,
    e.g. one report's pruning rates, train the same model; a distilled system also depends on
    its teacher, so its weights are never shared (see :func:`teacher_of`)."""
    return {
        "frontend": system.frontend.model_dump(),
        "model": system.model.model_dump(),
        "recipe": system.recipe.model_dump(mode="json"),
        "plugin": system.plugin,
    }


def _trained_path(
    settings: RunSettings, system: System, job: Job, dataset, epochs: int, minutes: float | None
) -> Path:
    """Where the trained (uncompressed) weights of a job are kept, keyed by everything that
    determines them, so that systems differing only in their compressor chain (e.g. one
    report's pruning rates) train once."""
    import hashlib

    from ascbench import __version__

    key = {
        "ascbench": __version__,
        "torch": torch.__version__,
        "dataset": dataset.fingerprint(),
        **training_identity(system),
        "seed": job.seed,
        "epochs": epochs,
        "minutes": minutes,
        "device": settings.device,
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return settings.results / "trained" / f"{digest[:20]}.pt"


def _save_trained(path: Path, model: torch.nn.Module, system: System, epochs: int) -> None:
    import io

    from ascbench.atomic import atomic_write_bytes, atomic_write_text

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write_text(
        path.with_suffix(".json"), json.dumps({"system": system.name, "epochs": epochs})
    )
    atomic_write_bytes(path, buffer.getvalue())


def _metrics(scores):
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


def teacher_students(system: System, registry: Registry, settings: RunSettings) -> bool:
    """Whether any registered system distils from ``system``."""
    return any(teacher_of(s) == system.name for s in registry.systems())


def _teacher_targets(system: System, job: Job, settings: RunSettings, train_features):
    from ascbench.compressors import TeacherOutputs

    spec = system.recipe.distillation
    if spec is None:
        return None
    path = _teacher_path(settings, spec.teacher, job.seed)
    if not path.exists():
        raise RunError(
            f"{path}: the outputs of teacher '{spec.teacher}' (seed {job.seed}) are missing; run "
            f"the teacher first (`ascbench run --system {spec.teacher}`) or both together"
        )
    outputs = TeacherOutputs.load(path, fingerprint=_features_fingerprint(train_features))
    return outputs.targets(spec, train_features.filenames)


def _features_fingerprint(features) -> str:
    """Identity of the training rows a teacher's outputs were computed on (names in order)."""
    import hashlib

    return hashlib.sha256("\n".join(features.filenames).encode()).hexdigest()[:16]


def _save_teacher_outputs(model, system: System, job: Job, settings: RunSettings, train_features):
    from ascbench.compressors import TeacherOutputs

    def batches():
        for start in range(0, len(train_features), 64):
            rows = range(start, min(start + 64, len(train_features)))
            yield (
                torch.stack([train_features[i][0] for i in rows]),
                [train_features.filenames[i] for i in rows],
            )

    outputs = TeacherOutputs.from_model(
        model, batches(), fingerprint=_features_fingerprint(train_features), teacher=system.name
    )
    outputs.save(_teacher_path(settings, system.name, job.seed))


# -- many jobs ----------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """What a run did: entries written, skipped (resume) and failed."""

    written: list[Any] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    seconds: float = 0.0


def run(
    registry: Registry,
    settings: RunSettings,
    systems: Sequence[System],
    seeds: Sequence[int] = (0,),
    *,
    on_entry: Callable[[Any], None] | None = None,
    executor: Any = None,
) -> RunSummary:
    """Run every job with ``executor`` (default: locally, in order), writing each entry as soon
    as it is finished; see :mod:`ascbench.executors`."""
    from ascbench.executors import execute

    return execute(registry, settings, systems, seeds, executor, on_entry=on_entry)
