"""Does ``torch.compile`` make a training step faster on this CPU? Eager against compiled,
per system, in one run.

For each system, a child process builds the model at the default input shape (1-s clips,
dcase2022) in the memory format its recipe trains in, and times a bare training step
(forward, cross-entropy, backward, Adam step) on one torch thread at the recipe's batch
size: median CPU time of 5 steps after 3 warm-up steps, eager, then the same model under
``torch.compile`` (default inductor backend, an empty cache), whose first step (the
compilation) is timed apart. Both use the same step, so the ratio says what compiling the
model's graph gains; a compilation that fails is recorded with its error. Writes
``OUT/compiled_step.json``::

    python benchmarks/experiments/compiled_step.py --out benchmarks/results/compiled-step

It is an experiment, not a timed test: a compilation takes 30-80 s a model on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: One system per architecture family of the bundled plugins.
SYSTEMS = (
    "dcase2022_baseline",
    "cao2021_sys1_proposal",
    "puy2021_ce_tta",
    "verbitskiy2021_mbconv_mel64",
    "shao2022_student_proposal",
    "schmid2023_cpmobile",
)
WARMUP, TIMED = 3, 5


def _median_step(step) -> float:
    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(TIMED):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times)


def measure(name: str) -> dict:
    """Eager and compiled step times of system ``name`` (runs in a child process)."""
    import torch

    from ascbench.allocator import keep_freed_memory
    from ascbench.build import build_frontend, build_model
    from ascbench.plugins import load_registry
    from ascbench.training.options import MEMORY_FORMATS

    torch.set_num_threads(1)
    keep_freed_memory()  # as `ascbench run` does in every job process
    registry = load_registry()
    ruleset = registry.ruleset("dcase2022")
    system = registry.system(name)
    shape = tuple(build_frontend(registry, system).output_shape(ruleset.clip_seconds))
    layout = system.recipe.extra.get("memory_format", "contiguous")
    batch = system.recipe.batch_size
    torch.manual_seed(0)
    model = build_model(registry, system, shape, ruleset.num_classes).train()
    model = model.to(memory_format=MEMORY_FORMATS[layout])
    x = torch.randn(batch, *shape).contiguous(memory_format=MEMORY_FORMATS[layout])
    y = torch.randint(0, ruleset.num_classes, (batch,))
    optimizer = torch.optim.Adam(model.parameters(), foreach=True)

    def step_of(net):
        def step() -> None:
            loss = torch.nn.functional.cross_entropy(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return step

    record = {"system": name, "batch": batch, "shape": list(shape), "memory_format": layout}
    record["eager_step_seconds"] = _median_step(step_of(model))
    compiled = step_of(torch.compile(model))
    start = time.perf_counter()
    try:
        compiled()
    except Exception as exc:  # the compiler's failure is the result
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        record["compile_error"] = f"{type(exc).__name__}: {' '.join(lines[:3])[:400]}"
        return record
    record["compile_seconds"] = time.perf_counter() - start
    record["compiled_step_seconds"] = _median_step(compiled)
    record["speedup"] = record["eager_step_seconds"] / record["compiled_step_seconds"]
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", action="append", help="system name (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/compiled-step"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    import os
    import tempfile

    import torch

    records = []
    for name in args.system or SYSTEMS:
        with tempfile.TemporaryDirectory() as cache:  # a cold compile: inductor's cache empty
            env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
            done = subprocess.run(
                [sys.executable, __file__, "--child", name], capture_output=True, text=True,
                env=env,
            )  # fmt: skip
        lines = done.stdout.strip().splitlines()
        if done.returncode == 0 and lines:
            record = json.loads(lines[-1])
        else:
            record = {"system": name, "error": f"exit {done.returncode}: {done.stderr[-300:]}"}
        records.append(record)
        shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}
        print(shown, file=sys.stderr, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.processor() or platform.machine(),
        "threads": 1,
        "systems": records,
    }
    (args.out / "compiled_step.json").write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
