"""Time ``ascbench.training.train`` on one system's recipe; a helper process of
``test_training_speed.py``.

It imports whichever ``ascbench`` is first on ``sys.path``, so the benchmark runs one copy of
it on the working tree and one on the code of an older commit (``PYTHONPATH``), and compares
the two in the same run. It only uses API that both have. Requests are JSON lines on stdin,
answers JSON lines on stdout::

    {"system": "kim2021_cnn_pr1", "batches": 4, "epochs": 2, "seed": 0, "extra": {...}}
    -> {"system": ..., "steps": 4, "epoch_seconds": [..., ...], "batch": 32, ...}

Each request trains a freshly built model (seeded) for ``epochs`` epochs of ``batches``
batches of random float16 features of the frontend's output shape, read the way ``ascbench
run`` reads its feature cache (a :class:`~ascbench.features.cache.FeatureSet`, which is
the trainer's clip data itself; before the redesign it sat behind ``runner._Clips``), on one
torch thread, as the default run trains. The first epoch is warm-up (oneDNN builds its
kernels, the allocator grows); the benchmark uses the last.
``{"matmul": 1024, "repeats": 5}`` answers the best time of an fp32 ``n x n @ n x n`` matmul.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _faults() -> int:
    """Minor page faults of this process so far (fresh pages the kernel had to zero)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _clips(features):
    if callable(getattr(features, "batch", None)):  # a feature set is clip data itself
        return features
    try:  # before the redesign, `ascbench run` trained through runner._Clips
        from ascbench.runner import _Clips
    except ImportError:  # pragma: no cover - a checkout without it
        _Clips = None
    if _Clips is not None:
        return _Clips(features)

    class Clips:
        def __init__(self, f):
            self.features = f

        def __len__(self):
            return len(self.features)

        def __getitem__(self, i):
            x, label = self.features[i][:2]
            return x, label, self.features.devices[i], self.features.filenames[i]

    return Clips(features)


class StepClock:
    """Stands in for the trainer's progress bar: the trainer calls ``update(1)`` after every
    optimizer step, so the times between calls are the steps' times (wall and this process's
    CPU time: on a machine shared with other work, CPU time is the steadier measure) and page
    faults."""

    def __init__(self, log: list, profiler=None, counter=None, **_: object):
        self.log = log
        self.profiler = profiler
        self.counter = counter  # counts the first step of the first epoch
        self.log.append(("start", time.perf_counter(), time.process_time(), _faults()))
        if counter is not None:
            counter.start()

    def update(self, n: int = 1) -> None:
        if self.counter is not None:
            self.counter.stop()
        self.log.append(("step", time.perf_counter(), time.process_time(), _faults()))
        if self.profiler is not None:
            self.profiler.step()

    def set_postfix(self, *args: object, **kwargs: object) -> None:
        pass

    def close(self) -> None:
        pass


def conv_backward_flops(
    grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
    _output_padding, _groups, output_mask, out_shape=None,
) -> int:  # fmt: skip
    """FLOPs of a convolution's backward: one forward's worth for the input gradient and one
    for the weight gradient, each only where autograd asks for it (``output_mask``).
    torch 2.13's own formula counts a grouped convolution's weight gradient as if it were
    dense (C^2 instead of C for a depthwise one: 73x too many on Verbitskiy's)."""
    from torch.utils.flop_counter import conv_flop_count

    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


class StepCounter:
    """The multiply-accumulates one training step executes, counted by torch's
    ``FlopCounterMode`` (convolutions, matmuls and their backward: a frozen layer has no
    weight gradient and the first layer no input gradient, so a step is not 3x the forward;
    Kim's recipe freezes two of four layers)."""

    def __init__(self) -> None:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        backward = torch.ops.aten.convolution_backward
        self.mode = FlopCounterMode(display=False, custom_mapping={backward: conv_backward_flops})
        self.state = "ready"  # -> "counting" -> "done": one step only

    def start(self) -> None:
        if self.state == "ready":
            self.mode.__enter__()
            self.state = "counting"

    def stop(self) -> None:
        if self.state == "counting":
            self.mode.__exit__(None, None, None)
            self.state = "done"

    @property
    def macs(self) -> int:
        return self.mode.get_total_flops() // 2


def step_times(log: list) -> list[list[tuple[float, float, int]]]:
    """Per epoch, the (wall seconds, CPU seconds, page faults) of each step."""
    epochs: list[list[tuple[float, float, int]]] = []
    prev = None
    for kind, *now in log:
        if kind == "start":
            epochs.append([])
        else:
            epochs[-1].append(tuple(b - a for a, b in zip(prev, now, strict=True)))
        prev = now
    return epochs


#: Categories of a step's time (``breakdown`` requests), in the order they are printed.
CATEGORIES = ("dense conv", "grouped conv", "batch norm", "matmul", "optimizer+EMA", "other")


def op_category(name: str, shapes: list) -> str:
    """The category of an aten op of a training step's profile. A convolution whose weight has
    one input channel per group on an input of several channels is grouped (depthwise)."""
    if "conv" in name:
        # mkldnn_convolution(input, weight, ...); convolution_backward(grad, input, weight, ...)
        inp, weight = (shapes[1], shapes[2]) if "backward" in name else (shapes[0], shapes[1])
        grouped = len(weight) == 4 and weight[1] == 1 and len(inp) == 4 and inp[1] > 1
        return "grouped conv" if grouped else "dense conv"
    if "batch_norm" in name:
        return "batch norm"
    if any(k in name for k in ("addmm", "aten::mm", "bmm", "linear", "matmul")):
        return "matmul"
    if "_foreach" in name:
        return "optimizer+EMA"
    return "other"


def time_shares(profiler) -> dict[str, float]:
    """Shares of the profiled steps' self CPU time by :data:`CATEGORIES`."""
    totals = dict.fromkeys(CATEGORIES, 0.0)
    for event in profiler.key_averages(group_by_input_shape=True):
        if not event.key.startswith("aten::"):
            continue  # autograd nodes and Python frames hold no time of their own here
        shapes = [list(s) if isinstance(s, (list, tuple)) else [] for s in event.input_shapes]
        totals[op_category(event.key, shapes + [[], [], []])] += event.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in totals.items()}


def time_system(
    registry,
    ruleset,
    name: str,
    batches: int,
    epochs: int,
    seed: int,
    extra: dict | None = None,
    breakdown: bool = False,
    count: bool = False,
) -> dict:
    """Train ``name`` for ``epochs`` epochs of ``batches`` batches and time its steps. With
    ``breakdown``, profile the last epoch's steps (but the first, a warm-up) and answer the
    shares of their time by op category; with ``count``, answer the MACs the first step
    executed (``step_macs``). Profiling and counting slow the steps they watch."""
    import numpy as np
    import torch

    import ascbench.training.trainer as trainer_module

    try:
        from ascbench.build import build_frontend, build_model
    except ImportError:  # pragma: no cover - a checkout before ascbench.build
        from ascbench.profiling import build_frontend, build_model
    from ascbench.features.cache import FeatureSet
    from ascbench.training import Teacher, seed_everything, train

    system = registry.system(name)
    recipe = system.recipe
    if extra:  # recipe options to try, e.g. {"memory_format": "channels_last"}
        recipe = recipe.model_copy(update={"extra": {**recipe.extra, **extra}})
    shape = tuple(build_frontend(registry, system).output_shape(ruleset.clip_seconds))
    mode = trainer_module.RecipeOptions.from_recipe(recipe).mixup_mode
    two = recipe.mixup_alpha is not None and mode == "two_batches"
    per_step = recipe.batch_size * (2 if two else 1)
    n = per_step * batches
    rng = np.random.default_rng(seed)
    # log-mel-like values (dB scale, as the between-class mixup expects), stored as float16
    x = (rng.standard_normal((n, *shape), dtype=np.float32) * 10 - 40).astype(np.float16)
    labels = np.arange(n) % ruleset.num_classes
    rng.shuffle(labels)
    features = FeatureSet(x, [f"clip{i}.wav" for i in range(n)], labels, ["a"] * n)
    teacher = None
    if recipe.distillation is not None:
        logits = torch.from_numpy(rng.standard_normal((n, ruleset.num_classes), np.float32))
        teacher = Teacher(logits, recipe.distillation.temperature, recipe.distillation.weight)
    parts = {}
    if getattr(recipe, "augmentations", None) or getattr(recipe, "lr_schedule", None):
        from ascbench.build import build_training_parts  # a checkout with registered parts

        parts = {"parts": build_training_parts(registry, system)}
    seed_everything(seed)
    model = build_model(registry, system, shape, ruleset.num_classes)
    log: list = []
    profiler = None
    if breakdown:
        from torch.profiler import profile, schedule

        wait = batches * (epochs - 1)
        profiler = profile(
            schedule=schedule(wait=wait, warmup=1, active=batches - 1), record_shapes=True
        )
        profiler.start()
    counter = StepCounter() if count else None
    bar = trainer_module.progress_bar
    trainer_module.progress_bar = lambda **kw: StepClock(log, profiler, counter, **kw)
    try:
        result = train(
            model, _clips(features), recipe, epochs=epochs, seed=seed, progress=False,
            teacher=teacher, **parts,
        )  # fmt: skip
    finally:
        trainer_module.progress_bar = bar
        if profiler is not None:
            profiler.stop()
    if profiler is not None or counter is not None:
        answer: dict = {"system": name}
        if profiler is not None:
            answer["time_shares"] = time_shares(profiler)
        if counter is not None:
            answer["step_macs"] = counter.macs
        return answer
    digest = float(sum(p.detach().double().abs().sum() for p in model.parameters()))
    return {
        "system": name,
        "shape": list(shape),
        "batch": recipe.batch_size,
        "clips_per_step": per_step,
        "steps": result.steps_per_epoch,
        "epoch_seconds": [r.seconds for r in result.history],
        "step_seconds": step_times(log),
        "loss": [r.loss for r in result.history],
        "weights_abs_sum": digest,
    }


def time_matmul(n: int, repeats: int) -> dict:
    """Best wall and CPU seconds of an fp32 ``(n, n) @ (n, n)`` matmul (n**3 MACs)."""
    import torch

    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    wall = cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        torch.mm(a, b, out=out)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return {"matmul": n, "wall_seconds": wall, "cpu_seconds": cpu, "macs": n**3}


def main() -> None:
    import torch

    import ascbench
    from ascbench.allocator import keep_freed_memory
    from ascbench.plugins import load_registry

    torch.set_num_threads(1)
    keep_freed_memory()  # as `ascbench run` does in every job process
    modules = [m for m in os.environ.get("ASCBENCH_WORKER_PLUGINS", "").split(",") if m]
    # the base commit's own plugins (on PYTHONPATH) instead of the installed ones
    registry = load_registry(modules, entry_points=False) if modules else load_registry()
    ruleset = registry.ruleset("dcase2022")
    out = sys.stdout
    sys.stdout = sys.stderr  # anything else printed must not break the protocol
    systems = [s.name for s in registry.systems()]
    out.write(json.dumps({"ready": True, "ascbench": ascbench.__file__, "systems": systems}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if "matmul" in request:
                answer = time_matmul(int(request["matmul"]), int(request.get("repeats", 5)))
            else:
                answer = time_system(
                    registry, ruleset, request["system"], int(request.get("batches", 4)),
                    int(request.get("epochs", 2)), int(request.get("seed", 0)),
                    request.get("extra"), bool(request.get("breakdown", False)),
                    bool(request.get("count", False)),
                )  # fmt: skip
        except Exception as exc:  # report, keep serving
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
