"""Training-step speed of every installed system: achieved MAC/s against dense fp32 matmul,
for the trainer of this working tree and for the trainer of a base commit, in the same run.

For each system, ``ascbench.training.train`` trains the system's model with its own recipe
(batch size, optimizer, augmentations, EMA, distillation targets) for a warm-up epoch and a
measured epoch of ``BATCHES`` batches of random float16 features of the frontend's output
shape, read through the same feature-set adapter as ``ascbench run``, on one torch thread.
A step is everything between two optimizer steps: reading the batch, augmentations,
forward, loss, backward, optimizer step, EMA.

Per system it reports the median step time (wall and CPU; the ratios use CPU time, the
steadier measure on a machine shared with other work), the MACs one training step executes
(convolutions and matmuls, forward and backward, counted by torch's ``FlopCounterMode`` over
one step of each trainer, with the backward of a grouped convolution counted right: a
frozen layer has no weight gradient and the first layer no input gradient, so this is not
3x the forward; ``forward_macs_x3_per_step`` keeps that estimate), the achieved MAC/s and
its ratio to the dense fp32 throughput of a 1024 x 1024 @ 1024 x 1024 matmul on one thread
measured by the same processes. The terminal summary prints the geometric-mean ratio over
systems for both trainers.

The two trainers run in two helper processes (``training_speed_worker.py``): one imports
``ascbench`` from this checkout, the other from ``git archive <base>`` of the base commit
(``ASCBENCH_TRAINING_BASE``, default ``b33b94c``, the code before the training-speed work),
with that commit's own plugins (models and recipes as they were; a system it does not have
is timed for this checkout only and left out of the comparison). Their requests alternate
system by system, so a load change on the machine hits both alike.
Set ``ASCBENCH_TRAINING_BASE=none`` to time only this checkout.

A third, profiled run of this checkout's trainer (not timed) splits each system's step time
by op category (dense convolution, grouped/depthwise convolution, batch norm, matmul,
optimizer and EMA, everything else: activations, pooling, elementwise, copies), which says
what bounds a system that stays far below the dense throughput.

Run (about 6 minutes on 2 cores)::

    pytest benchmarks/test_training_speed.py --benchmark-only --benchmark-json speed.json
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("training_speed_worker.py")
#: The commit whose trainer is the "before" of the comparison.
BASE = os.environ.get("ASCBENCH_TRAINING_BASE", "b33b94c")
#: Batches per epoch (one warm-up epoch, one measured).
BATCHES = int(os.environ.get("ASCBENCH_TRAINING_BATCHES", "4"))
#: Side of the square fp32 matmul that stands for the machine's dense throughput.
MATMUL = 1024


class Worker:
    """A ``training_speed_worker.py`` process importing ``ascbench`` from ``pythonpath``."""

    def __init__(self, label: str, pythonpath: Path, plugins: dict[Path, str] | None = None):
        """``plugins`` maps source folders to plugin modules to load instead of the installed
        plugins' entry points (the base commit's own plugins, for the base commit's trainer)."""
        path = [str(pythonpath), *(str(src) for src in plugins or {})]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), OMP_NUM_THREADS="1")
        env.pop("PYTHONSTARTUP", None)
        if plugins:
            env["ASCBENCH_WORKER_PLUGINS"] = ",".join(plugins.values())
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(pythonpath),
        )
        hello = self._read()
        self.ascbench = hello.get("ascbench", "")
        self.systems = set(hello.get("systems", []))

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"training-speed worker '{self.label}' exited")
        return json.loads(line)

    def ask(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"{self.label}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _base_tree(tmp: Path) -> Path | None:
    if BASE.lower() in {"", "none", "off"}:
        return None
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BASE, "ascbench", "plugins"], capture_output=True
    )
    if archive.returncode != 0:
        pytest.skip(f"cannot read the base commit {BASE}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    return tmp


def _plugins_of(tree: Path) -> dict[Path, str]:
    """The ascbench plugins of a checkout's ``plugins/*/pyproject.toml``: source folder ->
    entry-point module. The base trainer runs the base commit's models and recipes, not
    today's: a system's "before" is the code as it was."""
    import tomllib

    found: dict[Path, str] = {}
    for project in sorted(tree.glob("plugins/*/pyproject.toml")):
        points = tomllib.loads(project.read_text())["project"].get("entry-points", {})
        for module in points.get("ascbench", {}).values():
            found[project.parent / "src"] = module
    return found


@pytest.fixture(scope="session")
def training_workers(tmp_path_factory):
    workers = {"new": Worker("new", ROOT)}
    base = _base_tree(tmp_path_factory.mktemp("training-base"))
    if base is not None:
        workers["base"] = Worker(f"base {BASE}", base, _plugins_of(base))
    yield workers
    for w in workers.values():
        w.close()


@pytest.fixture(scope="session")
def dense_fp32(training_workers) -> dict:
    """The best of both processes' 1024^3 fp32 matmuls: MAC/s by wall and CPU time."""
    answers = [w.ask({"matmul": MATMUL, "repeats": 10}) for w in training_workers.values()]
    wall = min(a["wall_seconds"] for a in answers)
    cpu = min(a["cpu_seconds"] for a in answers)
    return {"matmul": MATMUL, "wall_macs_per_s": MATMUL**3 / wall, "macs_per_s": MATMUL**3 / cpu}


def _median_step(answer: dict) -> tuple[float, float]:
    """Median (wall, CPU) seconds of the measured (last) epoch's steps."""
    steps = answer["step_seconds"][-1]
    return statistics.median(s[0] for s in steps), statistics.median(s[1] for s in steps)


def _forward_macs(registry, name: str) -> int:
    import torch

    from ascbench.build import build_frontend, build_model
    from ascbench.complexity import measure

    ruleset = registry.ruleset("dcase2022")
    system = registry.system(name)
    shape = tuple(build_frontend(registry, system).output_shape(ruleset.clip_seconds))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_model(registry, system, shape, ruleset.num_classes)
    return int(measure(model, ruleset, shape).macs)


@pytest.mark.benchmark(group="training step")
def test_training_step(
    benchmark, ascbench_registry, ascbench_system: str, training_workers, dense_fp32
) -> None:
    request = {"system": ascbench_system, "batches": BATCHES, "epochs": 2, "seed": 0}
    answers: dict[str, dict] = {}
    base = training_workers.get("base")
    if base is not None and ascbench_system in base.systems:  # else a system added since
        answers["base"] = base.ask(request)
    new = training_workers["new"]
    answers["new"] = benchmark.pedantic(lambda: new.ask(request), rounds=1, iterations=1)

    # The new trainer's step profiled by op category and its executed MACs counted (one run,
    # not timed); the base trainer's step counted too (one step), as a step of its may differ.
    profiled = new.ask({**request, "breakdown": True, "count": True})
    executed = {"new": profiled["step_macs"]}
    if "base" in answers:
        one_step = {**request, "epochs": 1, "batches": 1, "count": True}
        executed["base"] = base.ask(one_step)["step_macs"]
    macs = _forward_macs(ascbench_registry, ascbench_system)
    batch = answers["new"]["batch"]
    info = benchmark.extra_info
    info.update(
        system=ascbench_system,
        batch=batch,
        clips_read_per_step=answers["new"]["clips_per_step"],
        forward_macs_per_clip=macs,
        training_macs_per_step=executed["new"],
        forward_macs_x3_per_step=macs * batch * 3,
        dense_fp32_macs_per_s=dense_fp32["macs_per_s"],
        dense_fp32_wall_macs_per_s=dense_fp32["wall_macs_per_s"],
        base_commit=BASE if "base" in answers else None,
        torch_threads=1,
    )
    for label, answer in answers.items():
        wall, cpu = _median_step(answer)
        info[label] = {
            "ascbench": training_workers[label].ascbench,
            "step_seconds": cpu,
            "step_wall_seconds": wall,
            "step_macs": executed[label],
            "macs_per_s": executed[label] / cpu,
            "ratio_to_dense": executed[label] / cpu / dense_fp32["macs_per_s"],
            "final_loss": answer["loss"][-1],
        }
        assert all(math.isfinite(v) for v in answer["loss"]), f"{label}: loss not finite"
    if "base" in answers:
        info["speedup"] = info["base"]["step_seconds"] / info["new"]["step_seconds"]
    info["new"]["time_shares"] = profiled["time_shares"]
