"""pytest plugin: latency per clip of any registered system, with its complexity attached.

Registered as a ``pytest11`` entry point, so every pytest session in an environment with
ascbench installed loads it. It stays inert until a test asks for one of its fixtures: importing
it loads neither torch nor the plugin registry.

Fixtures:

- ``ascbench_profile`` -- ``ascbench_profile(benchmark, system, rules=("dcase2021", "dcase2022"))``
  builds ``system`` as ``ascbench profile`` does (untrained, compressor chain applied with
  random calibration data) under each rule set, records parameters, non-zero parameters,
  bytes, MACs and the outcome of every limit in ``benchmark.extra_info``, then times one
  forward pass of the compressed model on a clip of the system's own challenge with
  pytest-benchmark. It returns the :class:`SystemBenchmark` it recorded.
- ``ascbench_system`` -- a test that requests it runs once per installed system (the name);
  systems of third-party plugins appear as soon as they are installed.
- ``ascbench_registry`` -- the session's loaded :class:`ascbench.plugins.Registry`.

:func:`~ascbench.pytest_plugin.benchmark.ascbench_systems` lists the installed system names for
``pytest.mark.parametrize``; :func:`~ascbench.pytest_plugin.benchmark.profile_benchmark` is what
``ascbench_profile`` calls, usable without the fixture (both importable from here too).
Loading this plugin imports only pytest and pluggy: pydantic, torch and the plugins come with
the first fixture a test uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # nothing heavy is imported until a fixture is used
    from ascbench.plugins import Registry
    from ascbench.pytest_plugin.benchmark import SystemBenchmark
    from ascbench.systems import System

SYSTEM_FIXTURE = "ascbench_system"
#: Names importable from here as before; they live in :mod:`ascbench.pytest_plugin.benchmark`.
_FROM_BENCHMARK = {
    "DEFAULT_RULES", "Deployed", "Latency", "RulesetMeasurement", "SystemBenchmark",
    "ascbench_systems", "deploy", "profile_benchmark", "session_registry",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _FROM_BENCHMARK:
        from ascbench.pytest_plugin import benchmark

        return getattr(benchmark, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- pytest hooks and fixtures ------------------------------------------------------------------
def _parametrized_by_user(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers(name="parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", ())
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        if name in argnames:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per installed system for every test that requests ``ascbench_system``."""
    if SYSTEM_FIXTURE not in metafunc.fixturenames or _parametrized_by_user(
        metafunc, SYSTEM_FIXTURE
    ):
        return
    from ascbench.pytest_plugin.benchmark import session_registry

    names = session_registry(metafunc.config).names("system")
    metafunc.parametrize(SYSTEM_FIXTURE, names, indirect=True, ids=names)


@pytest.fixture(scope="session")
def ascbench_registry(request: pytest.FixtureRequest) -> Registry:
    """The loaded ascbench plugin registry (installed plugins and ``ASCBENCH_PLUGINS``)."""
    from ascbench.pytest_plugin.benchmark import session_registry

    return session_registry(request.config)


@pytest.fixture
def ascbench_system(request: pytest.FixtureRequest) -> str:
    """The name of one installed system; a test that requests it runs once per system."""
    return request.param


@pytest.fixture
def ascbench_profile(ascbench_registry: Registry) -> Callable[..., SystemBenchmark]:
    """``ascbench_profile(benchmark, system, rules=("dcase2021", "dcase2022"), *,
    latency_rules=None, batch=1, rounds=None, warmup_rounds=1, threads=None, seed=0)``: put the
    system's parameters, non-zero parameters, bytes, MACs and limit checks under each rule set
    into ``benchmark.extra_info`` and time one forward pass of its compressed model
    (:func:`profile_benchmark`)."""

    def profile(benchmark: Any, system: str | System, rules=None, **options: Any):
        from ascbench.pytest_plugin.benchmark import DEFAULT_RULES, profile_benchmark

        rules = DEFAULT_RULES if rules is None else rules
        return profile_benchmark(benchmark, system, rules, registry=ascbench_registry, **options)

    return profile
