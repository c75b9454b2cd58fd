"""Synthetic leaderboard entries for the leaderboard tests (no training, no model)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ascbench.leaderboard import (
    Budget,
    ComplexitySummary,
    DatasetInfo,
    Hardware,
    Kernels,
    LeaderboardEntry,
    Metrics,
    PredictionStats,
    Provenance,
    build_entry,
)
from ascbench.rules import RuleSet, builtin_rulesets
from ascbench.scenes import DEVICE_GROUPS, DEVICES, SCENES
from ascbench.systems import ComponentRef, ReportedResults, System

RULESETS: dict[str, RuleSet] = {r.name: r for r in builtin_rulesets()}
START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
#: Kernels as a typical x86 machine reports them.
KERNELS = Kernels(
    cpu_capability="AVX2",
    onednn=True,
    onednn_version="3.12.0",
    mkl_version="2024.2",
    quantized_engine="x86",
)


def prediction_stats(
    predicted: dict[str, int] | None = None, correct: int | None = None, tied: int = 0
) -> PredictionStats:
    """The evidence of 360 test clips: ``predicted`` counts per class (default: 36 each, a
    model that learned), ``correct`` clips (default 40 %), the binomial p-value computed."""
    from ascbench.evaluation.metrics import binomial_p_value

    counts = {c: 0 for c in SCENES} | (predicted or {c: 36 for c in SCENES})
    clips = sum(counts.values())
    correct = int(0.4 * clips) if correct is None else correct
    return PredictionStats(
        clips=clips,
        correct=correct,
        predicted=counts,
        tied=tied,
        binomial_p=binomial_p_value(correct, clips, len(counts)),
    )


def collapsed(scene: str = "metro", clips: int = 360) -> PredictionStats:
    """A model that predicts ``scene`` for every clip (right only on that scene's clips)."""
    return prediction_stats({scene: clips}, correct=clips // len(SCENES))


def make_system(name: str, ruleset: str = "dcase2021", **kw: Any) -> System:
    return System(
        name=name,
        title=kw.pop("title", f"System {name}"),
        report=kw.pop("report", f"Author et al., {name} technical report"),
        challenge=ruleset,
        frontend=ComponentRef(name="logmel"),
        model=ComponentRef(name="cnn"),
        plugin=kw.pop("plugin", "ascbench-test-plugin"),
        **kw,
    )


def make_entry(
    name: str = "alpha",
    ruleset: str = "dcase2021",
    seed: int = 0,
    *,
    accuracy: float = 60.0,
    log_loss: float = 1.0,
    parameters: int = 30_000,
    nonzero: int | None = None,
    nbytes: int | None = None,
    macs: int = 10_000_000,
    error: str | None = None,
    reported: ReportedResults | None = None,
    proposal: bool = False,
    finished_after: float = 3600.0,
    flags: list[str] | None = None,
    predictions: PredictionStats | None = None,
) -> LeaderboardEntry:
    """A hashed entry as ``build_entry`` would make it at the end of a run; ``predictions`` is
    the evidence of degeneracy (none by default: the entry is not judged)."""
    rs = RULESETS[ruleset]
    nonzero = parameters if nonzero is None else nonzero
    if nbytes is None:
        nbytes = parameters if rs.parameters.storage_dtype == "int8" else 4 * nonzero
    complexity = ComplexitySummary(
        convention=rs.macs.name,
        counter="ascbench 0.1.0 (fvcore 0.1.5 trace)",
        input_shape=[1, 1, 40, 500 if rs.clip_seconds == 10 else 51],
        parameters=parameters,
        nonzero_parameters=nonzero,
        bytes=nbytes,
        macs=macs,
        macs_official=macs,
        fvcore_macs=macs - 1000,
        flags=list(flags or []),
    )
    metrics = None
    if error is None:
        metrics = {
            "accuracy": accuracy,
            "log_loss": log_loss,
            "ece": 0.05,
            **{f"accuracy.{c}": accuracy for c in SCENES},
            **{f"log_loss.{c}": log_loss for c in SCENES},
            **{f"accuracy.{d}": accuracy for d in DEVICES},
            **{f"log_loss.{d}": log_loss for d in DEVICES},
            **{f"accuracy.{g}": accuracy for g in DEVICE_GROUPS},
            **{f"log_loss.{g}": log_loss for g in DEVICE_GROUPS},
        }
        metrics = Metrics.from_flat(metrics)
        if predictions is not None:
            metrics = Metrics.model_validate({**metrics.model_dump(), "predictions": predictions})
    provenance = Provenance(
        ascbench_version="0.1.0",
        plugin_versions={"ascbench-test-plugin": "1.0"},
        torch_version="2.13.0",
        python_version="3.11.7",
        platform="Linux-test-x86_64",
        hardware=Hardware(cpu="Test CPU @ 2.0GHz", cores=2),
        dataset=DatasetInfo(
            name="synthetic TAU", fingerprint="0123456789abcdef" * 4, clips={"test": 2970}
        ),
        seed=seed,
        budget=Budget(full=False, epochs=2, minutes=None),
        device="cpu",
        started=START,
        finished=START + timedelta(seconds=finished_after),
        wall_seconds=finished_after,
        git_commit="d58cc55" * 5 + "d58cc",
        git_dirty=False,
        torch_threads=2,
        numpy_version="2.4.6",
        kernels=KERNELS,
    )
    system = make_system(name, ruleset, reported=reported, proposal=proposal)
    return build_entry(
        system=system,
        ruleset=rs,
        seed=seed,
        provenance=provenance,
        complexity=complexity,
        metrics=metrics,
        error=error,
        plugin_version="1.0",
    )


@pytest.fixture(name="make_entry", scope="session")
def make_entry_fixture():
    """The :func:`make_entry` factory."""
    return make_entry


@pytest.fixture
def rulesets() -> dict[str, RuleSet]:
    return RULESETS
