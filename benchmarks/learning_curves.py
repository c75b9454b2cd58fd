"""Learning curves of every installed system on the default data: does each one learn?

For each system this trains the model with its own recipe (the learning-rate schedule spans
``--epochs``; the batch the default run uses, see ``ascbench.jobs.plan.step_matched_recipe``)
and, after every epoch, evaluates it on the test split. It writes:

* ``OUT/learning_curves.json``: per system and epoch, the mean training loss, test macro
  accuracy and log loss, the number of distinct predicted classes and the share of the most
  predicted class, seconds; plus the machine, thread count and torch version;
* ``OUT/learning_curves.png``: accuracy and log loss against epoch, one line per system, with
  chance (10 %, ln 10) marked.

A system distilled from a teacher is trained after its teacher (same epochs and seed), on the
teacher's logits. Run it as a script (it is not a timed test)::

    python benchmarks/learning_curves.py --epochs 20 --out benchmarks/results/learning-curves
    python benchmarks/learning_curves.py --system dcase2022_baseline --epochs 5 --jobs 1

``--jobs N`` trains N systems at a time in worker processes with ``--threads`` torch threads
each. Separate a defect from "needs more epochs" by the shape of the curve: a system whose
accuracy stays at chance while its training loss falls (or never falls) is a defect; one that
rises slowly and has not flattened needs more epochs.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any


def _groups(registry, names: list[str]) -> list[list[str]]:
    """Systems in groups that run in one process: a teacher and its students together."""
    from ascbench.jobs.plan import teachers_of

    def teacher_of(name: str) -> str | None:
        teachers = teachers_of(registry.system(name))
        if len(teachers) > 1:
            raise SystemExit(f"{name}: distilled from several teachers; not supported here")
        return teachers[0] if teachers else None

    by_teacher: dict[str, list[str]] = {}
    singles: list[list[str]] = []
    for name in names:
        teacher = teacher_of(name)
        if teacher:
            by_teacher.setdefault(teacher, []).append(name)
    for name in names:
        if teacher_of(name):
            continue
        singles.append([name, *by_teacher.pop(name, [])])
    for teacher, students in by_teacher.items():  # teacher not selected: bring it along
        singles.append([teacher, *students])
    return singles


def _prediction_stats(model, clips, device) -> dict[str, Any]:
    from ascbench.evaluation import evaluate

    scores, predictions = evaluate(model, clips, batch_size=64, device=device, progress=False)
    top = predictions.probabilities.argmax(1)
    counts = [int((top == k).sum()) for k in range(predictions.probabilities.shape[1])]
    return {
        "accuracy": scores.accuracy,
        "log_loss": scores.log_loss,
        "predicted_classes": sum(1 for c in counts if c),
        "top_class_share": max(counts) / max(1, sum(counts)),
        "predicted_counts": counts,
    }


def _curve(name: str, epochs: int, seed: int, device: str, overrides: dict, teacher_logits):
    """Train one system for ``epochs`` epochs, evaluating on the test split after each."""
    import torch

    from ascbench.build import build_frontend, build_model, build_training_parts
    from ascbench.features import features_for
    from ascbench.plugins import load_registry
    from ascbench.training import seed_everything, train
    from ascbench.training.trainer import Teacher

    registry = load_registry()
    ruleset = registry.ruleset("dcase2022")
    system = registry.system(name)
    if overrides:
        system = system.model_copy(
            update={"recipe": system.recipe.model_copy(update=overrides)}
        )
    from ascbench.data import load_dataset
    from ascbench.jobs.plan import step_matched_recipe

    dataset = load_dataset(None, clip_seconds=ruleset.clip_seconds, progress=False)
    frontend = build_frontend(registry, system)
    feats = {s: features_for(dataset, s, frontend, progress=False) for s in ("train", "test")}
    # the batch the default run trains with (an Adam recipe starved of steps gets a smaller one)
    recipe, batch_note = step_matched_recipe(system.recipe, len(feats["train"]))
    system = system.model_copy(update={"recipe": recipe})
    seed_everything(seed)
    model = build_model(registry, system, tuple(feats["train"].shape[1:]), 10)
    teacher = None
    spec = system.recipe.distillation
    if spec is not None and teacher_logits is not None:
        teacher = Teacher(
            logits=teacher_logits, temperature=spec.temperature, weight=spec.weight
        )
    train_clips, test_clips = feats["train"], feats["test"]
    start = time.perf_counter()
    result = train(
        model, train_clips, system.recipe, epochs=epochs, seed=seed, device=device,
        progress=False, valid=test_clips, teacher=teacher, description=name,
        parts=build_training_parts(registry, system),
    )  # fmt: skip
    final = _prediction_stats(model, test_clips, device)
    logits = None
    model.eval()
    with torch.no_grad():
        outs = []
        for i in range(0, len(train_clips), 64):
            rows = range(i, min(i + 64, len(train_clips)))
            x = torch.stack([feats["train"][j][0] for j in rows]).to(device)
            outs.append(model(x).float().cpu())
        logits = torch.cat(outs)
    record = {
        "system": name,
        "epochs": epochs,
        "seconds": time.perf_counter() - start,
        "recipe": system.recipe.model_dump(mode="json"),
        "frontend": system.frontend.model_dump(),
        "distilled": teacher is not None,
        "batch_note": batch_note,
        "history": [
            {
                "epoch": h.epoch,
                "train_loss": h.loss,
                "test_accuracy": h.valid_accuracy,
                "test_log_loss": h.valid_log_loss,
                "lr": h.lr,
                "seconds": h.seconds,
            }
            for h in result.history
        ],
        "final": final,
    }
    return record, logits


def _run_group(args) -> list[dict]:
    group, epochs, seed, device, threads, overrides = args
    import torch

    torch.set_num_threads(threads)
    out, logits = [], None
    for name in group:
        try:
            record, new_logits = _curve(name, epochs, seed, device, overrides, logits)
        except Exception as exc:  # one system's failure is its own record
            record, new_logits = {"system": name, "error": f"{type(exc).__name__}: {exc}"}, None
        logits = new_logits if logits is None else logits  # the group's first is the teacher
        print(_summary(record), file=sys.stderr, flush=True)
        out.append(record)
    return out


def _summary(record: dict) -> str:
    if "error" in record:
        return f"{record['system']}: FAILED {record['error']}"
    h = record["history"]
    f = record["final"]
    best = max(h, key=lambda r: r["test_accuracy"] or 0)
    return (
        f"{record['system']}: {len(h)} epochs in {record['seconds']:.0f} s; last "
        f"acc {h[-1]['test_accuracy']:.1f} % ll {h[-1]['test_log_loss']:.3f}; best acc "
        f"{best['test_accuracy']:.1f} % at epoch {best['epoch']}; {f['predicted_classes']} "
        f"classes predicted, top share {f['top_class_share']:.2f}"
    )


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in results if "history" in r]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    cmap = plt.get_cmap("tab20")
    for i, r in enumerate(ok):
        epochs = [h["epoch"] for h in r["history"]]
        style = {"color": cmap(i % 20), "label": r["system"], "lw": 1.4}
        axes[0].plot(epochs, [h["train_loss"] for h in r["history"]], **style)
        axes[1].plot(epochs, [h["test_accuracy"] for h in r["history"]], **style)
        axes[2].plot(epochs, [h["test_log_loss"] for h in r["history"]], **style)
    axes[0].set_title("training loss (after mixup)")
    axes[1].set_title("test macro accuracy (%)")
    axes[1].axhline(10, color="k", ls=":", lw=1)
    axes[1].axhline(30, color="grey", ls="--", lw=0.8)
    axes[2].set_title("test log loss")
    axes[2].axhline(math.log(10), color="k", ls=":", lw=1)
    axes[2].set_ylim(0, 4)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", action="append", help="system name (repeatable); default all")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learning-curves"))
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=JSON",
        help="override a recipe field for every system (experiments), e.g. lr=0.01",
    )  # fmt: skip
    args = parser.parse_args(argv)
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}

    from ascbench.data import load_dataset
    from ascbench.plugins import load_registry

    registry = load_registry()
    names = args.system or [s.name for s in registry.systems()]
    load_dataset(None, clip_seconds=1.0, progress=False)  # generate the default data once
    groups = _groups(registry, names)
    work = [(g, args.epochs, args.seed, args.device, args.threads, overrides) for g in groups]
    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []

    def write() -> dict:
        results.sort(key=lambda r: r["system"])
        doc = _document(args, overrides, start, results)
        (args.out / "learning_curves.json").write_text(json.dumps(doc, indent=1) + "\n")
        return doc

    if args.jobs > 1:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            for rs in pool.imap_unordered(_run_group, work):
                results.extend(rs)
                write()  # a partial file survives an interrupted run
    else:
        for w in work:
            results.extend(_run_group(w))
            write()
    write()
    plot(results, args.out / "learning_curves.png")
    for r in results:
        print(_summary(r))
    return 0


def _document(args, overrides: dict, start: float, results: list[dict]) -> dict:
    import torch

    return {
        "epochs": args.epochs,
        "seed": args.seed,
        "device": args.device,
        "threads_per_job": args.threads,
        "jobs": args.jobs,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "overrides": overrides,
        "seconds": time.perf_counter() - start,
        "systems": results,
    }


if __name__ == "__main__":
    sys.exit(main())
