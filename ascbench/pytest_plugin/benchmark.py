"""Benchmarking a system's deployed model with pytest-benchmark, its complexity attached.

What the ``ascbench_profile`` fixture of :mod:`ascbench.pytest_plugin` calls
(:func:`profile_benchmark`), the JSON it records (:class:`SystemBenchmark`), and the registry of
installed systems a pytest session uses (:func:`session_registry`, :func:`ascbench_systems`).
Kept apart from the pytest plugin, which every pytest session loads, so that loading the plugin
costs nothing until a test uses it.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from ascbench.rules import LimitCheck

if TYPE_CHECKING:  # torch and the plugins are imported only when a benchmark runs
    import torch

    from ascbench.complexity import ComplexityReport
    from ascbench.plugins import Registry
    from ascbench.rules import RuleSet
    from ascbench.systems import System

DEFAULT_RULES = ("dcase2021", "dcase2022")


# -- what goes into the benchmark JSON -----------------------------------------------------------
class RulesetMeasurement(BaseModel):
    """A system's complexity under one rule set: the numbers ``ascbench profile --json`` gives
    (same build, same chain, same counter), or why it could not be measured."""

    model_config = ConfigDict(extra="forbid")

    ruleset: str
    status: str = Field(description="'pass', 'fail', 'ambiguous' or 'error'.")
    error: str | None = None
    clip_seconds: float
    input_shape: list[int] = Field(
        default_factory=list, description="(batch, channels, freq, time) that was counted."
    )
    parameters: int | None = None
    nonzero_parameters: int | None = None
    bytes: int | None = None
    macs: int | None = None
    macs_official: int | None = None
    values_by_dtype: dict[str, int] = Field(default_factory=dict)
    compliant: bool | None = Field(None, description="Every limit passes.")
    checks: list[LimitCheck] = Field(default_factory=list, description="One per limit.")
    flags: list[str] = Field(default_factory=list)


class Latency(BaseModel):
    """What was timed: one forward pass of the compressed model on feature input."""

    model_config = ConfigDict(extra="forbid")

    ruleset: str = Field(description="Rule set whose clip length and chain were timed.")
    clip_seconds: float
    input_shape: list[int] = Field(description="(batch, channels, freq, time) per call.")
    clips_per_call: int
    torch_threads: int
    median_seconds_per_clip: float | None = Field(
        None, description="Median round / clips_per_call; None with --benchmark-disable."
    )
    min_seconds_per_clip: float | None = None


class SystemBenchmark(BaseModel):
    """Everything ``ascbench_profile`` puts into ``benchmark.extra_info``."""

    model_config = ConfigDict(extra="forbid")

    system: str
    plugin: str
    challenge: str
    compressors: list[str] = Field(default_factory=list)
    ascbench_version: str
    seed: int
    latency: Latency
    rulesets: dict[str, RulesetMeasurement]


# -- building a system as deployed ----------------------------------------------------------------
@dataclass
class Deployed:
    """A system's compressed model for one rule set, and its complexity report."""

    ruleset: RuleSet
    shape: tuple[int, int, int]
    model: torch.nn.Module
    report: ComplexityReport


def deploy(registry: Registry, system: System, ruleset: RuleSet, seed: int = 0) -> Deployed:
    """Build ``system`` for ``ruleset`` exactly as :func:`ascbench.profiling.profile_system`
    does (frontend output shape of one clip, untrained model, compressor chain with random
    calibration data, counted in the rule set's form), keeping the model.

    The model is initialised under ``torch.manual_seed(seed)`` without disturbing the caller's
    random state, so non-zero counts (which depend on the random weights) are reproducible.
    """
    import torch

    from ascbench.build import build_system
    from ascbench.profiling import compress_without_data

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        built = build_system(system, registry, ruleset)
        model, _, report = compress_without_data(built, ruleset)
    return Deployed(ruleset=ruleset, shape=built.input_shape, model=model.eval(), report=report)


def _error_text(exc: Exception) -> str:
    """The one-line reason ``ascbench profile`` would give for ``exc``."""
    from ascbench.errors import AscbenchError

    if isinstance(exc, AscbenchError):
        return str(exc)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}"


def _measurement(ruleset: RuleSet, deployed: Deployed | None, error: str | None):
    if deployed is None:
        return RulesetMeasurement(
            ruleset=ruleset.name, status="error", error=error, clip_seconds=ruleset.clip_seconds
        )
    r = deployed.report
    return RulesetMeasurement(
        ruleset=ruleset.name, status=r.status, clip_seconds=ruleset.clip_seconds,
        input_shape=list(r.input_shape), parameters=r.parameters,
        nonzero_parameters=r.nonzero_parameters, bytes=r.bytes, macs=r.macs,
        macs_official=r.macs_official, values_by_dtype=dict(r.values_by_dtype),
        compliant=r.compliant, checks=list(r.checks), flags=list(r.flags),
    )  # fmt: skip


# -- the profiling call ---------------------------------------------------------------------------
def profile_benchmark(
    benchmark: Any,
    system: str | System,
    rules: str | Sequence[str] = DEFAULT_RULES,
    *,
    registry: Registry | None = None,
    latency_rules: str | None = None,
    batch: int = 1,
    rounds: int | None = None,
    warmup_rounds: int = 1,
    threads: int | None = None,
    seed: int = 0,
) -> SystemBenchmark:
    """Measure ``system`` under each of ``rules`` and time its forward pass with ``benchmark``.

    ``rules`` are rule-set names or rule-set files, as ``--rules`` takes them. The timed model
    is the one compressed for ``latency_rules`` (default: the system's ``challenge`` when it is
    among ``rules``, else the first of ``rules``), fed ``batch`` random clips of that rule set's
    length per call; the frontend is not timed. ``rounds=None`` lets pytest-benchmark calibrate
    (``--benchmark-min-rounds`` and ``--benchmark-max-time`` apply); an integer runs exactly
    that many rounds after ``warmup_rounds``. ``threads`` sets torch's intra-op threads while
    timing (restored afterwards; default: leave them as they are): one thread is what a small
    device has, and it keeps latency stable on a busy machine, where several threads wait for
    each other. Returns what was put into ``benchmark.extra_info``. An unknown name or an
    unusable file fails the test with one line.
    """
    from ascbench.errors import AscbenchError

    if min(batch, rounds or 1, threads or 1) < 1:
        pytest.fail(f"ascbench_profile: batch, rounds and threads must be >= 1, got {batch}, "
                    f"{rounds} and {threads}", pytrace=False)  # fmt: skip
    try:
        registry = registry if registry is not None else _load_registry()
        registry.raise_on_conflicts()
        target = registry.system(system) if isinstance(system, str) else system
        rulesets = _rulesets(registry, target, rules, latency_rules)
    except AscbenchError as exc:
        problem = str(exc)
    else:
        problem = None
    if problem:  # failed outside the except block: pytest then shows the message alone
        pytest.fail(f"ascbench: {problem}", pytrace=False)
    measured, timed = _measure_all(registry, target, rulesets, seed)
    timing = _Timing(batch, rounds, warmup_rounds, threads, seed)
    return _time_and_record(benchmark, target, measured, timed, timing)


def _rulesets(registry: Registry, system: System, rules, latency_rules) -> list[RuleSet]:
    """The rule sets to measure, the timed one first."""
    names = [rules] if isinstance(rules, str) else list(rules)
    if not names:
        pytest.fail("ascbench_profile: rules must name at least one rule set", pytrace=False)
    if latency_rules is None:
        latency_rules = system.challenge if system.challenge in names else names[0]
    ordered = dict.fromkeys([latency_rules, *names])  # the timed one first, no repeats
    return [registry.ruleset(name) for name in ordered]


def _measure_all(
    registry: Registry, system: System, rulesets: list[RuleSet], seed: int
) -> tuple[dict[str, RulesetMeasurement], Deployed]:
    """Each rule set's measurement, and the deployed model of the first (the timed one). A
    failure under the timed rule set fails the test; under another one it is recorded, as
    ``ascbench profile`` records it."""
    measured: dict[str, RulesetMeasurement] = {}
    timed = None
    for ruleset in rulesets:
        try:
            deployed, error = deploy(registry, system, ruleset, seed), None
        except Exception as exc:  # a plugin's bug must not hide the other rule sets
            deployed, error = None, _error_text(exc)
        if error and timed is None:
            pytest.fail(f"ascbench: {system.name} cannot be built for {ruleset.name}: {error}",
                        pytrace=False)  # fmt: skip
        measured[ruleset.name] = _measurement(ruleset, deployed, error)
        timed = timed or deployed
    return measured, timed


@dataclass(frozen=True)
class _Timing:
    batch: int
    rounds: int | None
    warmup_rounds: int
    threads: int | None
    seed: int


def _time_and_record(
    benchmark,
    system: System,
    measured: dict[str, RulesetMeasurement],
    timed: Deployed,
    timing: _Timing,
) -> SystemBenchmark:
    """Put the measurements into ``benchmark.extra_info``, time ``timed.model`` on a batch of
    random clips, and add the per-clip latency."""
    import torch

    from ascbench import __version__

    generator = torch.Generator().manual_seed(timing.seed)
    clips = torch.randn((timing.batch, *timed.shape), generator=generator)
    result = SystemBenchmark(
        system=system.name, plugin=system.plugin, challenge=system.challenge,
        compressors=[c.name for c in system.compressors], ascbench_version=__version__,
        seed=timing.seed, rulesets=measured,
        latency=Latency(
            ruleset=timed.ruleset.name, clip_seconds=timed.ruleset.clip_seconds,
            input_shape=list(clips.shape), clips_per_call=timing.batch,
            torch_threads=timing.threads or torch.get_num_threads(),
        ),
    )  # fmt: skip
    if benchmark.group is None:
        benchmark.group = (
            f"ascbench latency per call: {timed.ruleset.name} "
            f"({timed.ruleset.clip_seconds:g}-s clips, batch {timing.batch})"
        )
    benchmark.extra_info.update(result.model_dump(mode="json"))
    _run_timer(benchmark, timed.model, clips, timing)
    stats = getattr(benchmark.stats, "stats", None)  # None with --benchmark-disable
    if stats is not None:
        result.latency.median_seconds_per_clip = stats.median / timing.batch
        result.latency.min_seconds_per_clip = stats.min / timing.batch
        benchmark.extra_info["latency"] = result.latency.model_dump(mode="json")
    return result


def _run_timer(benchmark, model, clips, timing: _Timing) -> None:
    import torch

    def forward():
        return model(clips)

    previous = torch.get_num_threads()
    if timing.threads:
        torch.set_num_threads(timing.threads)
    try:
        with torch.inference_mode():
            if timing.rounds is None:
                benchmark(forward)
            else:
                benchmark.pedantic(forward, rounds=timing.rounds,
                                   warmup_rounds=timing.warmup_rounds, iterations=1)  # fmt: skip
    finally:
        torch.set_num_threads(previous)


# -- registry and system discovery --------------------------------------------------------------
def _load_registry() -> Registry:
    """Every installed plugin plus ``ASCBENCH_PLUGINS``; plugin errors become warnings."""
    from ascbench.plugins import load_registry

    registry = load_registry()
    for info in registry.plugins:
        for error in info.errors:
            warnings.warn(f"ascbench plugin '{info.name}': {error}", stacklevel=3)
    return registry


_registries: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # pytest.Config -> Registry


def session_registry(config: pytest.Config) -> Registry:
    """The registry of this pytest session, loaded on first use."""
    if config not in _registries:
        _registries[config] = _load_registry()
    return _registries[config]


def ascbench_systems() -> list[str]:
    """Names of every installed system (entry points and ``ASCBENCH_PLUGINS``), sorted, for
    ``@pytest.mark.parametrize("system", ascbench_systems())``. Loads the plugins when called."""
    return _load_registry().names("system")
