"""The pytest plugin: ``ascbench_profile`` puts ``ascbench profile``'s numbers into the
pytest-benchmark JSON, ``ascbench_system`` lists every installed system, and the plugin stays
inert in sessions that do not use it."""

from __future__ import annotations

import json
import textwrap
from importlib import metadata

import pytest
import torch

from ascbench.plugins import load_registry
from ascbench.profiling import profile_system
from ascbench.pytest_plugin import ascbench_systems

pytest_plugins = ["pytester"]

MODULE = "ascbench.pytest_plugin"

TINY_PLUGIN = """
import math
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef

def flat_linear(num_classes=10, input_shape=(1, 40, 51)):
    return torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(math.prod(input_shape), num_classes)
    )

def short_only(num_classes=10, input_shape=(1, 40, 51)):
    if input_shape[-1] > 100:
        raise ValueError(f"needs 1-s clips, got {input_shape[-1]} frames")
    return flat_linear(num_classes, input_shape)

@hookimpl
def register_models():
    return [Model("pp_flat_linear", flat_linear, "one linear layer on all features"),
            Model("pp_short_only", short_only, "breaks on 10-s clips")]

def _system(name, model, challenge):
    return System(name=name, title="tiny", report="none", challenge=challenge,
                  frontend=ComponentRef(name="logmel", params={"n_mels": 40, "hop_length": 882}),
                  model=ComponentRef(name=model))

@hookimpl
def register_systems():
    return [_system("pp_tiny_sys", "pp_flat_linear", "dcase2021"),
            _system("pp_short_sys", "pp_short_only", "dcase2022")]
"""


def _installed() -> bool:
    """Whether the pytest11 entry point of ascbench is installed (then pytest loads the plugin
    by itself, and naming it again with -p could register it twice)."""
    return any(ep.value == MODULE for ep in metadata.entry_points(group="pytest11"))


PLUGIN_ARGS = [] if _installed() else ["-p", MODULE]
QUIET = ["-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]


@pytest.fixture(scope="module")
def registry():
    return load_registry(environment=False)


@pytest.fixture(scope="module", autouse=True)
def baseline_2022(registry):
    """``ascbench profile``'s numbers for the 2022 baseline, measured before any in-process
    pytest run: pytester drops the modules first imported inside a run, and torch cannot
    import some of them twice, so everything profiling needs is imported here first."""
    return _seeded_profile(registry, "dcase2022_baseline", "dcase2022")


@pytest.fixture
def tiny_plugin(pytester, monkeypatch):
    """A third-party plugin module, installed the way ASCBENCH_PLUGINS installs one."""
    pytester.makepyfile(pp_tiny_plugin=TINY_PLUGIN)
    pytester.syspathinsert()
    monkeypatch.setenv("ASCBENCH_PLUGINS", "pp_tiny_plugin")
    return load_registry(["pp_tiny_plugin"], environment=False)


def _run_benchmarks(pytester, test_source: str) -> dict:
    """Run a user's test file with --benchmark-json; return the JSON's benchmarks by name."""
    pytester.makepyfile(test_user=textwrap.dedent(test_source))
    out = pytester.path / "bench.json"
    result = pytester.runpytest(*PLUGIN_ARGS, *QUIET, "--benchmark-json", str(out))
    result.assert_outcomes(passed=1)
    return {b["name"]: b for b in json.loads(out.read_text())["benchmarks"]}


def _seeded_profile(registry, system: str, ruleset: str):
    """``ascbench profile``'s measurement under the seed the fixture uses (non-zero counts of
    untrained int8 weights depend on the random initialisation)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return profile_system(registry, registry.system(system), registry.ruleset(ruleset))


def _assert_same_numbers(entry: dict, profile) -> None:
    c = profile.complexity
    assert entry["status"] == profile.status
    assert entry["input_shape"] == c.input_shape
    for quantity in ("parameters", "nonzero_parameters", "bytes", "macs", "macs_official"):
        assert entry[quantity] == getattr(c, quantity), quantity
    assert entry["checks"] == [check.model_dump(mode="json") for check in c.checks]
    assert entry["compliant"] == c.compliant


def test_profile_puts_the_2022_baselines_numbers_into_the_benchmark_json(
    pytester, monkeypatch, baseline_2022
):
    monkeypatch.delenv("ASCBENCH_PLUGINS", raising=False)
    benches = _run_benchmarks(
        pytester,
        """
        def test_baseline(benchmark, ascbench_profile):
            result = ascbench_profile(benchmark, "dcase2022_baseline", rules="dcase2022",
                                      rounds=2, warmup_rounds=0)
            assert result.rulesets["dcase2022"].compliant
        """,
    )
    bench = benches["test_baseline"]
    info = bench["extra_info"]
    assert (info["system"], info["plugin"], info["compressors"]) == (
        "dcase2022_baseline", "dcase_baselines", ["int8_static"]
    )  # fmt: skip
    measured = info["rulesets"]["dcase2022"]
    # the int8 chain fuses conv+BN: 46,118 -> 45,990 parameters, 29,271,638 -> 29,271,510 MACs
    assert (measured["parameters"], measured["macs"]) == (45_990, 29_271_510)
    assert measured["bytes"] == 45_990 and measured["values_by_dtype"] == {
        "qint8": 45_816, "float32": 174
    }  # fmt: skip
    assert [(c["quantity"], c["status"]) for c in measured["checks"]] == [
        ("parameters", "pass"), ("macs", "pass")
    ]  # fmt: skip
    _assert_same_numbers(measured, baseline_2022)

    latency = info["latency"]
    assert latency["ruleset"] == "dcase2022" and latency["input_shape"] == [1, 1, 40, 51]
    assert bench["stats"]["rounds"] == 2
    assert latency["median_seconds_per_clip"] == pytest.approx(bench["stats"]["median"])
    assert bench["group"].startswith("ascbench latency per call: dcase2022")


def test_latency_defaults_to_the_systems_challenge_and_every_rule_set_is_recorded(
    pytester, tiny_plugin
):
    benches = _run_benchmarks(
        pytester,
        """
        import torch

        def test_tiny(benchmark, ascbench_profile):
            threads = torch.get_num_threads()
            ascbench_profile(benchmark, "pp_tiny_sys", batch=2, rounds=1, threads=1)
            assert torch.get_num_threads() == threads
        """,
    )
    info = benches["test_tiny"]["extra_info"]
    assert info["plugin"] == "pp_tiny_plugin" and info["challenge"] == "dcase2021"
    latency = info["latency"]
    assert (latency["ruleset"], latency["input_shape"]) == ("dcase2021", [2, 1, 40, 501])
    assert latency["torch_threads"] == 1
    assert latency["median_seconds_per_clip"] == pytest.approx(
        benches["test_tiny"]["stats"]["median"] / 2
    )
    assert set(info["rulesets"]) == {"dcase2021", "dcase2022"}
    for name in ("dcase2021", "dcase2022"):
        expected = _seeded_profile(tiny_plugin, "pp_tiny_sys", name)
        _assert_same_numbers(info["rulesets"][name], expected)
    # one linear layer on a 10-s clip is far too big for 2021; on a 1-s clip it fits 2022
    assert info["rulesets"]["dcase2021"]["checks"][0]["status"] == "fail"
    assert info["rulesets"]["dcase2022"]["compliant"] is True


def test_a_rule_set_the_system_cannot_be_built_for_is_recorded_unless_it_is_timed(
    pytester, tiny_plugin
):
    pytester.makepyfile(
        test_user="""
        def test_short(benchmark, ascbench_profile):
            result = ascbench_profile(benchmark, "pp_short_sys", rounds=1)
            assert result.latency.ruleset == "dcase2022"
            assert result.rulesets["dcase2022"].status == "pass"
            assert result.rulesets["dcase2021"].status == "error"
            error = result.rulesets["dcase2021"].error
            assert error == "ValueError: needs 1-s clips, got 501 frames"

        def test_timed_on_long_clips(benchmark, ascbench_profile):
            ascbench_profile(benchmark, "pp_short_sys", latency_rules="dcase2021", rounds=1)
        """
    )
    result = pytester.runpytest(*PLUGIN_ARGS, *QUIET)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["ascbench: pp_short_sys cannot be built for dcase2021: "
                                 "ValueError: needs 1-s clips, got 501 frames"])  # fmt: skip


def test_every_installed_system_is_a_parameter_including_third_party_ones(pytester, tiny_plugin):
    pytester.makepyfile(
        test_user="""
        import pytest

        def test_each(ascbench_system):
            assert isinstance(ascbench_system, str)

        @pytest.mark.parametrize("ascbench_system", ["mine"])
        def test_own_list(ascbench_system):
            assert ascbench_system == "mine"
        """
    )
    result = pytester.runpytest(*PLUGIN_ARGS, *QUIET, "--collect-only", "-q")
    ids = [line.split("::")[1] for line in result.outlines if "::" in line]
    expected = tiny_plugin.names("system")
    assert "pp_tiny_sys" in expected and "dcase2022_baseline" in expected
    assert ids == [f"test_each[{name}]" for name in expected] + ["test_own_list[mine]"]
    assert ascbench_systems() == expected


def test_unknown_system_fails_the_test_with_one_line(pytester, monkeypatch):
    monkeypatch.delenv("ASCBENCH_PLUGINS", raising=False)
    pytester.makepyfile(
        test_user="""
        def test_typo(benchmark, ascbench_profile):
            ascbench_profile(benchmark, "dcase2022_baselin")
        """
    )
    result = pytester.runpytest(*PLUGIN_ARGS, *QUIET)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["ascbench: unknown system 'dcase2022_baselin'; did you mean dcase2022_baseline*"]
    )
    assert "Traceback" not in result.stdout.str() and "During handling" not in result.stdout.str()
    assert not [line for line in result.outlines if line.startswith((">", "E  "))]


def test_installed_entry_point_loads_the_plugin_without_torch_or_plugins(pytester, monkeypatch):
    """A session whose tests use none of the fixtures: the plugin is loaded through its pytest11
    entry point but imports neither torch nor any ascbench plugin."""
    if not _installed():  # stand in for `pip install`: a distribution with the entry point
        info = pytester.mkdir("site") / "ascbench_pp_fake-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ascbench-pp-fake\n"
                                       "Version: 0.1\n")  # fmt: skip
        (info / "entry_points.txt").write_text(f"[pytest11]\n{MODULE} = {MODULE}\n")
        monkeypatch.setenv("PYTHONPATH", str(info.parent))
    pytester.makepyfile(
        test_plain=f"""
        import sys

        def test_plain(request):
            assert request.config.pluginmanager.is_registered(sys.modules["{MODULE}"])
            assert "torch" not in sys.modules
            assert not [m for m in sys.modules if m.startswith("ascbench.plugins")]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_loading_the_plugin_imports_nothing_heavy():
    """Every pytest session in an environment with ascbench loads the plugin: in a fresh
    interpreter, importing it loads neither pydantic nor torch nor any ascbench component
    (measured: ~9 ms on top of pytest, was ~150 ms), and the names it always offered still
    import from it and from ``ascbench``."""
    import subprocess
    import sys

    code = textwrap.dedent(f"""
        import sys
        import {MODULE}
        heavy = [m for m in ("pydantic", "torch", "ascbench.rules", "ascbench.plugins")
                 if m in sys.modules]
        assert not heavy, heavy
        from {MODULE} import ascbench_systems, profile_benchmark, SystemBenchmark
        from ascbench import Model, System, RuleSet, hookimpl
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
