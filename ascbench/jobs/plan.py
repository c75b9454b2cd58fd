"""What a run is made of: its jobs, their settings and budget, and the order they run in.

The bottom layer of :mod:`ascbench.jobs`: plain data and pure functions, no torch. A
:class:`Job` is one (system, seed) under the run's rule set; :class:`RunSettings` is everything
else a job needs; :func:`plan` orders jobs so that teachers run before their students and
:func:`dependencies` says which finished jobs each one waits for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ascbench.errors import AscbenchError
from ascbench.leaderboard.defaults import DEFAULT_RESULTS

if TYPE_CHECKING:
    from ascbench.plugins import Registry
    from ascbench.rules import RuleSet
    from ascbench.systems import System

#: Where jobs can run (``--executor``; :mod:`ascbench.jobs.executors`), and how to get Ray.
EXECUTORS = ("local", "ray")
RAY_INSTALL = "pip install 'ascbench[ray]'"

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
class RequestedBudget:
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


#: Under the default budget, an Adam/AdamW recipe with fewer optimizer steps than this per
#: epoch (a batch sized for a far larger dataset) ...
STARVED_STEPS_PER_EPOCH = 8
#: ... gets the batch that gives this many (see :func:`step_matched_recipe`) ...
MIN_STEPS_PER_EPOCH = 16
#: ... but a batch is never made smaller than this.
MIN_BATCH = 16


def step_matched_recipe(recipe, n_train: int):
    """``(recipe, note)`` for the default budget. An Adam or AdamW recipe whose batch leaves
    fewer than ``STARVED_STEPS_PER_EPOCH`` optimizer steps per epoch of ``n_train`` clips gets
    the batch that gives ``MIN_STEPS_PER_EPOCH`` (at least ``MIN_BATCH``) and its learning
    rate scaled by the square root of the batch ratio (the rule for adaptive optimizers); the
    compute (clip passes) is unchanged, the number of updates is no longer starved. A batch of
    256 was made for TAU 2022's 139,620 clips (546 steps per epoch), not for the 900 default
    clips (3). SGD recipes keep their batch: on the default data Shao's (SGD, lr 0.1, two
    batches of 128 per step) collapsed to one class with 8 or 16 steps per epoch under the
    square-root rule, and with 16 under the linear scaling rule (lr 0.022, teacher and student
    at 12.8 %), where its own 3 steps reach 28.6 %. ``note`` says what changed."""
    import math

    pairs = 2 if recipe.mixup_alpha is not None and recipe.mixup_mode == "two_batches" else 1
    steps = n_train // (recipe.batch_size * pairs)
    if recipe.optimizer not in ("adam", "adamw") or steps >= STARVED_STEPS_PER_EPOCH:
        return recipe, None
    batch = max(MIN_BATCH, n_train // (MIN_STEPS_PER_EPOCH * pairs))
    if batch >= recipe.batch_size:
        return recipe, None
    lr = recipe.lr * math.sqrt(batch / recipe.batch_size)
    note = (
        f"default budget: batch {recipe.batch_size} -> {batch} and lr {recipe.lr:g} -> {lr:.3g} "
        f"(square-root rule), so that an epoch of {n_train} clips has "
        f"{n_train // (batch * pairs)} optimizer steps, not {steps}; --budget N or --full keep "
        "the recipe's"
    )
    return recipe.model_copy(update={"batch_size": batch, "lr": lr}), note


def parse_budget(text: str | None, *, full: bool = False) -> RequestedBudget:
    """``--budget``: ``N`` (epochs), ``Nm``/``Ns``/``Nh`` (minutes per system), or both as
    ``N,Nm``. None means the default budget."""
    if full:
        if text:
            raise RunError("--full runs the report's own recipe; drop --budget or --full")
        return RequestedBudget(full=True)
    if not text:
        return RequestedBudget()
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
    return RequestedBudget(epochs=epochs, minutes=minutes)


@dataclass
class RunSettings:
    """Everything a job needs besides the system and seed."""

    ruleset: RuleSet
    data: str | None = None
    budget: RequestedBudget = field(default_factory=RequestedBudget)
    device: str = "cpu"
    results: Path = DEFAULT_RESULTS
    resume: bool = False
    progress: bool = True
    #: threads that decode audio while the feature cache fills (``--workers``)
    decode_threads: int = 2
    cache_root: Path | None = None
    weights: Path | None = None
    #: torch intra-op threads per job (``--cpus-per-job``); float reductions depend on it, so
    #: the same count gives the same numbers. None: the executor's default (local: the cores
    #: divided by its number of parallel jobs).
    threads: int | None = None
    #: train on the DCASE 2024 split of this percent (``split_setup/split<N>.csv``); None: the
    #: whole training split
    train_split: int | None = None
    #: leave out listed audio files that are missing (``--skip-missing``; recorded in notes)
    skip_missing: bool = False
    #: test-time augmentation passes asked for with ``--tta`` (1: one plain pass; "report":
    #: the recipe's own); None: the recipe's, capped by the budget
    tta: int | Literal["report"] | None = None


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
    if not weights.exists():
        raise RunError(f"{weights}: weights file or folder not found")


def parse_tta(text: str | None, systems: Sequence[System]) -> int | Literal["report"] | None:
    """``--tta none|report|N``: one plain pass (1), the recipe's own passes, or N passes of
    the system's test-time augmentation; None when not given. A system without test-time
    augmentation takes only ``none``."""
    if text is None:
        return None
    value = text.strip().lower()
    if value == "none":
        return 1
    if value != "report" and not (value.isdigit() and int(value) >= 1):
        raise RunError(f"--tta {text!r} is not understood; use none, report or a number of passes")
    if value == "report":
        return "report"
    plain = [s.name for s in systems if s.evaluation.tta_passes <= 1]
    if int(value) > 1 and plain:
        raise RunError(
            f"--tta {value}: {', '.join(plain)} has no test-time augmentation; use --tta none "
            "or leave --tta out"
        )
    return int(value)


def tta_passes_for(settings: RunSettings, recipe_passes: int) -> tuple[int, str | None]:
    """The test-time augmentation passes of a job and a note on why, when they are not the
    recipe's own: ``--tta``, else the budget's cap (3 without ``--full``)."""
    if settings.tta is not None:
        passes = recipe_passes if settings.tta == "report" else settings.tta
        what = "a single plain pass" if passes == 1 else f"{passes} passes"
        return passes, f"test-time augmentation: {what} (--tta; the recipe's: {recipe_passes})"
    passes = settings.budget.tta_passes(recipe_passes)
    if passes < recipe_passes:
        return passes, (
            f"test-time augmentation: {passes} of the recipe's {recipe_passes} passes "
            "(budget; --full or --tta report runs all, --tta none a single plain pass)"
        )
    return passes, None


def teachers_of(system: System) -> list[str]:
    """The names of the systems whose outputs ``system`` is distilled from (none for a system
    not distilled, or distilled from a stored logits file)."""
    spec = system.recipe.distillation
    return spec.teacher_systems if spec is not None else []


def is_distilled(system: System) -> bool:
    """Whether ``system`` learns from a teacher's outputs (its weights then depend on them)."""
    return system.recipe.distillation is not None


def plan(systems: Sequence[System], seeds: Sequence[int], registry: Registry) -> list[Job]:
    """Jobs in an order where every teacher runs before its students (same seed).

    A student whose teacher was not selected brings its teacher along.
    """
    by_name = {s.name: s for s in systems}
    pending = [t for s in systems for t in teachers_of(s)]
    while pending:
        name = pending.pop()
        if name not in by_name:
            by_name[name] = registry.system(name)
            pending.extend(teachers_of(by_name[name]))
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise RunError(f"distillation cycle: {' -> '.join((*path, name))}")
        for teacher in teachers_of(by_name[name]):
            visit(teacher, (*path, name))
        ordered.append(name)

    for name in by_name:
        visit(name, ())
    return [Job(name, seed) for seed in seeds for name in ordered]


def dependencies(jobs: Sequence[Job], registry: Registry) -> dict[Job, list[Job]]:
    """For each job, the jobs among ``jobs`` that must be finished before it starts: its
    teacher (same seed) and the first earlier job that trains the same model the same way
    (whose trained weights it then reuses)."""
    present = set(jobs)
    first_training: dict[tuple[str, int], Job] = {}
    deps: dict[Job, list[Job]] = {}
    for job in jobs:
        system = registry.system(job.system)
        wait = [Job(t, job.seed) for t in teachers_of(system) if Job(t, job.seed) in present]
        if not is_distilled(system):  # a distilled model depends on its teacher: never shared
            identity = json.dumps(training_identity(system), sort_keys=True, default=str)
            earlier = first_training.setdefault((identity, job.seed), job)
            if earlier != job:
                wait.append(earlier)
        deps[job] = wait
    return deps


def training_identity(system: System) -> dict:
    """What determines a system's trained weights besides data, seed, budget and machine: its
    plugin, frontend, model and recipe (not its compressors). Systems with the same identity,
    e.g. one report's pruning rates, train the same model; a distilled system also depends on
    its teacher, so its weights are never shared (see :func:`teachers_of`)."""
    return {
        "frontend": system.frontend.model_dump(),
        "model": system.model.model_dump(),
        "recipe": system.recipe.model_dump(mode="json"),
        "plugin": system.plugin,
    }


def load_run_dataset(settings: RunSettings):
    """The dataset of ``settings`` (``--data``, or the generated default), at the rule set's
    clip length, its training split the DCASE 2024 split ``settings.train_split`` if set."""
    from ascbench.data import load_dataset

    split = f"split{settings.train_split}" if settings.train_split else "fold1"
    return load_dataset(
        settings.data, clip_seconds=settings.ruleset.clip_seconds, split=split,
        progress=settings.progress, skip_missing=settings.skip_missing,
        evaluation_only=settings.weights is not None,
    )  # fmt: skip
