"""One job, from scratch to its leaderboard entry: :func:`run_job`.

It runs the stages of :mod:`ascbench.jobs.stages` in order and never raises for a failure of
the system itself: that becomes a ``failed`` entry with its reason (and the traceback in a file
beside it), so that one plugin's bug does not stop the run.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from ascbench.errors import AscbenchError, one_line
from ascbench.jobs import stages
from ascbench.jobs.artifacts import ArtifactStore
from ascbench.jobs.plan import Job, RunSettings, load_run_dataset, step_matched_recipe

if TYPE_CHECKING:
    from ascbench.plugins import Registry
    from ascbench.systems import System


def run_job(job: Job, registry: Registry, settings: RunSettings, dataset=None):
    """Run one job from scratch and return its :class:`LeaderboardEntry`."""
    from ascbench.allocator import keep_freed_memory
    from ascbench.leaderboard import Budget, DatasetInfo, utc_now

    keep_freed_memory()  # large activations: reuse freed memory instead of fresh pages per op
    system = registry.system(job.system)
    started = utc_now()
    epochs, minutes = settings.budget.for_recipe(system.recipe.epochs)
    budget, dataset_info, result, error = None, None, None, None
    try:
        if dataset is None:
            dataset = load_run_dataset(settings)
        dataset_info = DatasetInfo(
            name=dataset.name,
            fingerprint=dataset.fingerprint(),
            clips={k: len(v) for k, v in dataset.splits.items()},
        )
        artifacts = ArtifactStore(settings.results, settings.ruleset.name)
        note = None
        if settings.budget.is_default and settings.weights is None:
            recipe, note = step_matched_recipe(system.recipe, len(dataset.splits["train"]))
            system = system.model_copy(update={"recipe": recipe})
        ctx = stages.JobContext(job, system, registry, settings, dataset, artifacts)
        ctx.notes.extend([note] if note else [])
        result = run_stages(ctx, epochs, minutes)
        budget = Budget(full=settings.budget.full, epochs=result.epochs, minutes=minutes)
    except KeyboardInterrupt:
        raise
    except AscbenchError as exc:
        error = str(exc)
    except Exception as exc:  # a plugin's bug fails its own entry, not the run
        error = describe_failure(exc, system, job, settings)
    return job_entry(
        job, registry, settings, started=started, budget=budget, outcome=result, error=error,
        dataset=dataset_info,
    )  # fmt: skip


def run_stages(ctx: stages.JobContext, epochs: int, minutes: float | None) -> stages.JobOutcome:
    """features -> fit -> compress -> score -> outcome, for the budget's epochs/minutes."""
    from ascbench.build import build_frontend, build_system, with_weights
    from ascbench.training import seed_everything

    frontend = build_frontend(ctx.registry, ctx.system)
    features = stages.extract_features(ctx, frontend)
    split = stages.split_for_validation(ctx, features)
    seed_everything(ctx.job.seed)  # the model's initial weights depend on the seed only
    weights = ctx.settings.weights  # checked by check_weights() before the run
    built = build_system(
        with_weights(ctx.system, weights) if weights is not None else ctx.system,
        ctx.registry,
        ctx.settings.ruleset,
        frontend=frontend,
        input_shape=features.input_shape,
    )
    ctx.training_parts = stages.with_training_audio(ctx, built.training_parts)
    fitted = stages.fit(ctx, built, features, split, epochs, minutes)
    compress = stages.compress
    if ctx.system.device_specific is not None:  # one model per device (DCASE 2025)
        from ascbench.jobs import device_models

        fitted = device_models.specialise(ctx, fitted, split, minutes)
        compress = device_models.compress_each
    evaluation = stages.test_evaluation(ctx, built, features)
    compressed = compress(ctx, built, fitted, features, evaluation, minutes)
    scored = stages.score(ctx, compressed, evaluation)
    if stages.has_students(ctx.system, ctx.registry):
        stages.save_teacher_outputs(ctx, compressed.model, features)
    return stages.outcome(ctx, fitted, compressed, scored)


def job_entry(
    job: Job,
    registry: Registry,
    settings: RunSettings,
    *,
    started,
    budget=None,
    outcome: stages.JobOutcome | None = None,
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
    plugin = next((p for p in registry.plugins if p.name == system.plugin), None)
    fields: dict[str, Any] = {}
    if outcome is not None:
        fields = {
            "complexity": outcome.complexity,
            "metrics": outcome.metrics,
            "stages": outcome.stages,
            "artifacts": outcome.artifacts,
            "device_models": outcome.device_models,
        }
    return build_entry(
        system=system,
        ruleset=settings.ruleset,
        seed=job.seed,
        provenance=provenance,
        error=error,
        plugin_version=plugin.version if plugin else "",
        **fields,
    )


def describe_failure(exc: BaseException, system: System, job: Job, settings: RunSettings) -> str:
    """One line naming the exception and the innermost ascbench or plugin frame; the full
    traceback goes to ``seed<k>.error.txt`` beside the entry."""
    from ascbench.atomic import atomic_write_text

    artifacts = ArtifactStore(settings.results, settings.ruleset.name)
    path = artifacts.error_report(system.name, job.seed)
    try:
        atomic_write_text(path, "".join(traceback.format_exception(exc)))
    except OSError:
        return one_line(exc)
    return one_line(exc, also=f"traceback in {path}")
