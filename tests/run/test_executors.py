"""Executors: the local one (in this process, or two worker processes with --jobs 2) and Ray (a
local 2-CPU Ray instance) give the same entries, record failures and crashes, resume, and run
teachers before their students; seeds options and the confidence interval of multi-seed
statistics."""

from __future__ import annotations

import importlib
import json
import math
import os
import re
import sys
import textwrap

import pytest

from ascbench.cli import main
from ascbench.commands.run import OptionsError, parse_seeds
from ascbench.leaderboard import ResultStore
from ascbench.leaderboard.board import Stat, aggregate, confidence_interval
from tests.synthetic import tiny_tau2022

PLUGIN = "ascbench_exec_test_plugin"
SOURCE = """
import os
import time
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, Distillation, TrainingRecipe

HOLD = "ASCBENCH_EXEC_TEST_HOLD"  # exec_hold's model waits while the file it names exists

class Tiny(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3), fail=False, crash=False,
                 hold=False):
        super().__init__()
        if crash:
            os._exit(3)  # the worker process dies, as in a segfault or an OOM kill
        held = os.environ.get(HOLD) if hold else None
        deadline = time.monotonic() + 600
        while held and os.path.exists(held) and time.monotonic() < deadline:
            time.sleep(0.05)  # a job that is still running when the test interrupts the run
        self.fail = fail
        self.conv = torch.nn.Conv2d(input_shape[0], 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, num_classes)

    def forward(self, x):
        if self.fail:
            raise RuntimeError("this model always fails")
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))

FRONTEND = ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024, "hop_length": 512})

def system(name, params=None, recipe=None, **kw):
    return System(name=name, title=name, report="test", challenge="dcase2022", frontend=FRONTEND,
                  model=ComponentRef(name="exec_tiny", params=params or {}),
                  recipe=TrainingRecipe(epochs=50, batch_size=16, lr=3e-3, **(recipe or {})),
                  **kw)

@hookimpl
def register_models():
    return [Model("exec_tiny", Tiny, "tiny conv net")]

@hookimpl
def register_systems():
    return [
        system("exec_ok", compressors=[ComponentRef(name="fold_batchnorm")]),
        system("exec_plain"),  # trains exactly like exec_ok: reuses its weights
        system("exec_student", recipe={"distillation": Distillation(teacher="exec_ok")}),
        system("exec_broken", params={"fail": True}),
        system("exec_crash", params={"crash": True}),  # only in worker processes
        system("exec_hold", params={"hold": True}),  # exec_ok, waiting on $ASCBENCH_EXEC_TEST_HOLD
    ]
"""
SYSTEMS = ["exec_ok", "exec_plain", "exec_student", "exec_broken"]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    """The test plugin as a module in a folder of its own (not installed: Ray workers must get
    the folder from the driver)."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / f"{PLUGIN}.py").write_text(textwrap.dedent(SOURCE))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        mp.delenv("ASCBENCH_PLUGINS", raising=False)
        importlib.invalidate_caches()
        yield PLUGIN
    sys.modules.pop(PLUGIN, None)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "synth"
    return tiny_tau2022(root)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


@pytest.fixture(scope="session")
def ray_instance():
    """A local Ray instance with 2 CPUs for the whole session (starting one takes ~8 s)."""
    ray = pytest.importorskip("ray")
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING,
             log_to_driver=False)  # fmt: skip
    yield ray
    ray.shutdown()


def run_cli(plugin, data, cache, results, *extra) -> int:
    return main(
        ["--plugin", plugin, "run", "--data", str(data), "--results", str(results), "--budget",
         "1", "--no-progress", "--cache", str(cache), "--cpus-per-job", "1", *extra]
    )  # fmt: skip


def systems(*names):
    return [arg for name in names for arg in ("--system", name)]


def entries(results):
    return {(e.system.name, e.seed): e for e in ResultStore(results).load_all()}


# -- Ray against local ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_results(plugin, data, cache, tmp_path_factory):
    results = tmp_path_factory.mktemp("local")
    code = run_cli(plugin, data, cache, results, "--jobs", "1", "--seeds", "0,1",
                   *systems(*SYSTEMS))  # fmt: skip
    assert code == 1
    return results


@pytest.fixture(scope="module")
def pool_results(plugin, data, cache, tmp_path_factory):
    results = tmp_path_factory.mktemp("pool")
    code = run_cli(plugin, data, cache, results, "--jobs", "2", "--seeds", "0,1",
                   *systems(*SYSTEMS))  # fmt: skip
    assert code == 1  # exec_broken failed; every other job still ran
    return results


@pytest.fixture(scope="module")
def ray_results(plugin, data, cache, tmp_path_factory, ray_instance):
    results = tmp_path_factory.mktemp("ray")
    code = run_cli(plugin, data, cache, results, "--executor", "ray", "--seeds", "0,1",
                   *systems(*SYSTEMS))  # fmt: skip
    assert code == 1  # exec_broken failed; every other job still ran
    return results


@pytest.mark.parametrize("other", ["ray_results", "pool_results"])
def test_workers_give_the_local_executors_numbers(local_results, other, request):
    local, ray = entries(local_results), entries(request.getfixturevalue(other))
    assert set(ray) == set(local) == {(s, k) for s in SYSTEMS for k in (0, 1)}
    for key, expected in local.items():
        got = ray[key]
        assert got.status == expected.status, key
        assert got.metrics == expected.metrics, key
        assert got.complexity == expected.complexity, key
        assert got.stages == expected.stages, key
        assert got.provenance.torch_threads == expected.provenance.torch_threads == 1, key
        assert got.verify()
    assert ray["exec_ok", 0].status in ("ok", "degenerate")  # finished (tiny data may not teach)
    assert ray["exec_ok", 0].metrics != ray["exec_ok", 1].metrics  # the seeds differ
    # exec_plain waited for exec_ok and reused its weights, as in the local run
    assert any("trained weights reused" in f for f in ray["exec_plain", 1].complexity.flags)


@pytest.mark.parametrize("which", ["ray_results", "pool_results"])
def test_a_failing_system_becomes_a_failed_entry(which, request):
    results = request.getfixturevalue(which)
    broken = entries(results)["exec_broken", 0]
    assert broken.status == "failed" and "this model always fails" in broken.reason
    assert (results / "dcase2022" / "exec_broken" / "seed0.error.txt").exists()


@pytest.mark.parametrize("which", ["ray_results", "pool_results"])
def test_students_start_after_their_teacher(which, request):
    found = entries(request.getfixturevalue(which))
    for seed in (0, 1):
        teacher, student = found["exec_ok", seed], found["exec_student", seed]
        assert student.status in ("ok", "degenerate")  # finished: it found the teacher's outputs
        assert student.provenance.started >= teacher.provenance.finished


def test_resume_skips_finished_entries(plugin, data, cache, ray_results, capsys):
    path = ray_results / "dcase2022" / "exec_ok" / "seed1.json"
    before = path.read_bytes()
    code = run_cli(plugin, data, cache, ray_results, "--executor", "ray", "--resume",
                   "--seeds", "0,1", *systems("exec_ok", "exec_student"))  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("finished earlier, skipped (--resume)") == 4
    assert "0 entries written, 4 skipped" in err
    assert path.read_bytes() == before


def test_the_board_shows_mean_std_and_confidence_interval(plugin, data, cache, ray_results,
                                                          capsys):  # fmt: skip
    run_cli(plugin, data, cache, ray_results, "--resume", "--jobs", "1", "--seeds", "0,1",
            *systems("exec_ok"))  # fmt: skip
    out = capsys.readouterr().out
    values = [e.metrics.log_loss for (s, _), e in entries(ray_results).items() if s == "exec_ok"]
    stat = aggregate(values)
    low, high = stat.ci95
    assert f"{stat.mean:.3f} ± {stat.std:.3f} [{low:.3f}, {high:.3f}]" in out
    md = (ray_results / "leaderboard-dcase2022.md").read_text()
    assert "95 % confidence interval of the mean" in md


@pytest.mark.parametrize(
    "executor, reason",
    [
        (["--executor", "ray"], "the Ray task did not finish:"),
        (["--jobs", "2"], "the worker process died: BrokenProcessPool"),
    ],
    ids=["ray", "local-processes"],
)
def test_a_dead_worker_becomes_a_failed_entry(plugin, data, cache, tmp_path, request, capsys,
                                              executor, reason):  # fmt: skip
    """The worker of exec_crash dies (os._exit) on both tries; exec_ok, running beside it,
    is not affected."""
    if "ray" in executor:
        request.getfixturevalue("ray_instance")
    results = tmp_path / "results"
    code = run_cli(plugin, data, cache, results, *executor, *systems("exec_crash", "exec_ok"))
    assert code == 1
    found = entries(results)
    assert found["exec_ok", 0].status in ("ok", "degenerate")  # finished
    crashed = found["exec_crash", 0]
    assert crashed.status == "failed" and crashed.verify()
    assert crashed.reason.startswith(reason)
    assert "died" in crashed.reason.lower() or "crash" in crashed.reason.lower()
    if "ray" not in executor:
        assert "trying once more" in capsys.readouterr().err  # tried twice, then recorded


def test_an_interrupted_parallel_run_keeps_finished_entries(plugin, data, cache, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while two worker
    processes run: the command exits 130 soon, no worker is left, every written entry is whole,
    and --resume then runs only the rest.

    Nothing here depends on how fast the machine is: exec_hold's jobs wait until the test lets
    them go, so the run cannot end before the interrupt, however long the first entry takes
    (exec_broken's, which fails at once, while both exec_hold jobs hold the two workers). The
    command starts with SIGINT at its default, as in a terminal: a pytest started in the
    background by a shell (``pytest &``) ignores SIGINT, and so would the command, which then ran
    to its end (exit 1: ``assert 1 == 130``)."""
    import signal
    import subprocess
    import time

    results = tmp_path / "results"
    hold = tmp_path / "hold"
    hold.touch()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),  # the plugin
        "ASCBENCH_EXEC_TEST_HOLD": str(hold),
    }
    terminal = (  # `python -m ascbench` with SIGINT raising KeyboardInterrupt, as in a terminal
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from ascbench.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    selected = systems("exec_hold", "exec_broken")
    args = [sys.executable, "-c", terminal, "--plugin", plugin, "run", "--data", str(data),
            "--results", str(results), "--budget", "1", "--no-progress", "--cache", str(cache),
            "--jobs", "2", "--seeds", "0,1,2", *selected]  # fmt: skip
    log = tmp_path / "stderr.txt"  # a file, not a pipe nobody reads while the run goes on
    with log.open("w") as stderr:
        proc = subprocess.Popen(args, env=env, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 600  # generous: two workers start and load torch
        while not list(results.glob("dcase2022/*/seed*.json")):
            assert proc.poll() is None, f"the run ended before any entry: {log.read_text()}"
            assert time.monotonic() < deadline, "no entry was written in 600 s"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        hold.unlink(missing_ok=True)
    assert proc.returncode == 130, log.read_text()
    written = entries(results)
    assert written and all(e.verify() for e in written.values())
    assert len(written) < 6
    assert not any(system == "exec_hold" for system, _ in written)  # held until interrupted
    deadline = time.monotonic() + 60  # the driver killed its workers; let the kernel reap them
    while _live_processes_of_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _live_processes_of_session(proc.pid) == []  # no worker process outlived the run
    assert run_cli(plugin, data, cache, results, "--jobs", "2", "--resume", "--seeds", "0,1,2",
                   *selected) == 1  # fmt: skip
    assert len(entries(results)) == 6


def _live_processes_of_session(sid: int) -> list[str]:
    """The command lines of processes of session ``sid`` that still run (not zombies: a zombie
    has exited, and whether anyone reaps it depends on the container's init)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:  # it exited meanwhile
            continue
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


# -- the local executor, options ----------------------------------------------------------------
def test_jobs_run_with_the_requested_thread_count(monkeypatch):
    import torch

    import ascbench.jobs.job as job_module
    from ascbench.jobs.executors import InProcessExecutor
    from ascbench.jobs.plan import Job, RunSettings
    from ascbench.jobs.workers import run_job_here

    seen = []
    monkeypatch.setattr(job_module, "run_job", lambda *a: seen.append(torch.get_num_threads()))

    before = torch.get_num_threads()
    settings = InProcessExecutor().prepare(RunSettings(ruleset=None, threads=None), None)
    assert settings.threads == len(os.sched_getaffinity(0))
    target = 1 if before != 1 else 2
    settings.threads = target
    executor = InProcessExecutor()
    for job in (Job("a", 0), Job("b", 0)):
        executor.submit(job.system, run_job_here, job, None, settings, None).result()
    assert seen == [target, target]
    assert torch.get_num_threads() == before


def test_dependencies(plugin):
    from ascbench.jobs.plan import Job, dependencies, plan
    from ascbench.plugins import load_registry

    registry = load_registry([plugin], entry_points=False, environment=False)
    picked = registry.systems(["exec_student", "exec_plain", "exec_broken"])
    jobs = plan(picked, [0, 1], registry)
    deps = dependencies(jobs, registry)
    for seed in (0, 1):
        assert deps[Job("exec_ok", seed)] == []
        assert deps[Job("exec_student", seed)] == [Job("exec_ok", seed)]
        assert deps[Job("exec_plain", seed)] == [Job("exec_ok", seed)]
        assert deps[Job("exec_broken", seed)] == []  # its model params differ
    # a teacher that is not among the jobs (finished earlier) is not waited for
    assert dependencies([Job("exec_student", 0)], registry) == {Job("exec_student", 0): []}


def test_seed_options():
    assert parse_seeds() == [0]
    assert parse_seeds(seed=[3, 1, 3]) == [3, 1]
    assert parse_seeds(seeds="0, 1,2") == [0, 1, 2]
    assert parse_seeds(n_seeds=3) == [0, 1, 2]
    for kwargs, message in [
        ({"seed": [1], "seeds": "0,1"}, "--seed and --seeds"),
        ({"seeds": "0,1", "n_seeds": 2}, "--seeds and --n-seeds"),
        ({"seeds": "0,a"}, "not a list of seeds"),
        ({"seeds": "0,-1"}, "not a list of seeds"),
        ({"n_seeds": 0}, "at least 1"),
        ({"seed": [-2]}, "negative"),
    ]:
        with pytest.raises(OptionsError, match=message):
            parse_seeds(**kwargs)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seed", "1", "--n-seeds", "2"], "--seed and --n-seeds both name seeds"),
        (["--address", "auto"], "add --executor ray"),
        (["--cpus-per-job", "0"], "--cpus-per-job 0 must be at least 1"),
        (["--jobs", "0"], "--jobs 0 must be at least 1"),
        (["--executor", "ray", "--jobs", "2"], "--jobs is for the local executor"),
    ],
)
def test_conflicting_options_are_one_line_errors(args, message, tmp_path, capsys):
    assert main(["run", "--results", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ascbench: error:") and message in err[0]


def test_ray_missing_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from ascbench.commands.run import RAY_INSTALL
    from ascbench.jobs.executors import RAY_INSTALL as EXECUTOR_RAY_INSTALL

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["run", "--executor", "ray", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'ascbench[ray]'" in err[0]
    assert RAY_INSTALL == EXECUTOR_RAY_INSTALL
    assert not list(tmp_path.iterdir())


# -- statistics over seeds ----------------------------------------------------------------------
@pytest.mark.parametrize("values", [[0.8, 0.9, 1.0], [61.0, 63.5], [1.0, 1.0, 1.0, 1.0], [2.5] * 2])
def test_confidence_interval_matches_scipy(values):
    from scipy import stats

    stat = aggregate(values)
    sem = stat.std / math.sqrt(len(values))
    if sem == 0:
        assert stat.ci95 == (stat.mean, stat.mean)
        return
    low, high = stats.t.interval(0.95, len(values) - 1, loc=stat.mean, scale=sem)
    assert stat.ci95 == pytest.approx((low, high), rel=1e-12)


def test_one_seed_has_no_interval():
    assert aggregate([0.9]).ci95 is None
    assert confidence_interval(0.9, None, 1) is None
    assert aggregate([0.9]).format(3, ci=True) == "0.900"


def test_interval_is_derived_and_formatted():
    stat = aggregate([60.0, 62.0])  # t(0.975, 1) = 12.706: half-width 12.706 * 1.414 / 1.414
    assert stat.format(1) == "61.0 ± 1.4"
    assert stat.format(1, ci=True) == "61.0 ± 1.4 [48.3, 73.7]"
    # a board written before the interval existed reads back with it, equal to a fresh one
    old = json.loads(stat.model_dump_json())
    del old["ci95"]
    assert Stat.model_validate(old) == stat
    # a hand-edited interval is recomputed, never trusted
    assert Stat.model_validate({**old, "ci95": [0.0, 1.0]}).ci95 == stat.ci95
    assert re.fullmatch(r"[\d.]+ ± [\d.]+ \[[\d.]+, [\d.]+\]", stat.format(3, ci=True))


def test_an_unreachable_cluster_is_a_quick_one_line_error():
    import socket

    from ascbench.jobs.executors import _check_reachable
    from ascbench.jobs.plan import RunError

    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(RunError, match=f"cannot reach the Ray cluster at {address}"):
            _check_reachable(address)
    _check_reachable("auto")  # left to Ray, which answers quickly
