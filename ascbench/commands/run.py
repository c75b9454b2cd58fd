"""``ascbench run``: train, compress, evaluate and measure systems; write the leaderboard."""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "run"
HELP = "train, compress, evaluate and measure every system under a rule set; write the leaderboard"


def add_arguments(parser):
    parser.add_argument(
        "--rules", default="dcase2022", metavar="NAME|FILE",
        help="rule set name or a .toml/.yaml rule-set file (default: dcase2022)",
    )  # fmt: skip
    parser.add_argument(
        "--system", action="append", metavar="NAME", help="only this system (repeatable)"
    )
    parser.add_argument(
        "--data", metavar="PATH",
        help="dataset root (TAU 2020/2022 Mobile layout) or a labels CSV of a plain audio folder; "
        "default: the embedded synthetic dataset (numbers on it are NOT comparable with DCASE)",
    )  # fmt: skip
    parser.add_argument(
        "--budget", metavar="EPOCHS|TIME",
        help="training per system: epochs ('5'), or a time ('90s', '2m') that becomes as many "
        "epochs as fit on this machine (measured), or both ('20,2m'); default: at most 3 epochs",
    )  # fmt: skip
    parser.add_argument("--full", action="store_true", help="train with each report's own recipe")
    parser.add_argument(
        "--weights", metavar="PATH",
        help="evaluate released weights instead of training (one --system whose model takes a "
        "'weights' parameter, e.g. the SP4ASC checkpoints)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, action="append", metavar="N", help="seed (repeatable; default 0)"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for training (cpu, cuda, cuda:1)"
    )
    parser.add_argument(
        "--results", default="results", metavar="DIR", help="results directory (default: results)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip (system, seed) pairs already finished"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="threads for audio decoding (default 2)"
    )
    parser.add_argument(
        "--cache", metavar="DIR", help="feature cache directory (shared filesystems welcome)"
    )
    parser.add_argument(
        "--no-progress", action="store_true",
        help="no progress bars (they are only drawn on a terminal anyway)",
    )  # fmt: skip


def run(args, ctx) -> int:
    from ascbench.leaderboard import ResultStore
    from ascbench.leaderboard.board import group_by_ruleset
    from ascbench.leaderboard.render import render_results, render_text
    from ascbench.runner import RunSettings, check_weights, parse_budget
    from ascbench.runner import run as run_jobs

    registry = ctx.registry
    ruleset, systems = ctx.selection()
    weights = Path(args.weights) if args.weights else None
    if weights is not None:
        check_weights(systems if args.system else [], weights)
    settings = RunSettings(
        ruleset=ruleset,
        data=args.data,
        budget=parse_budget(args.budget, full=args.full),
        device=args.device,
        results=Path(args.results),
        resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
        workers=args.workers,
        cache_root=Path(args.cache) if args.cache else None,
        weights=weights,
    )
    from ascbench.training import resolve_device

    resolve_device(args.device)  # fail before any work if the device is not there
    seeds = list(dict.fromkeys(args.seed or [0]))
    summary = run_jobs(registry, settings, systems, seeds)
    store = ResultStore(settings.results)
    entries = [e for e in store.load_all() if e.ruleset.name == ruleset.name]
    if entries:
        board = group_by_ruleset(entries)[ruleset.name]
        print(render_text(board))
        written = render_results(settings.results, rules=ruleset.name)
        shown = ", ".join(str(p) for p in written if p.suffix in {".md", ".html", ".png"})
        print(f"leaderboard written: {shown}")
    failed = [e for e in summary.written if e.status == "failed"]
    print(
        f"{len(summary.written)} entries written, {len(summary.skipped)} skipped (--resume), "
        f"{len(failed)} failed, in {summary.seconds / 60:.1f} min",
        file=sys.stderr,
    )
    return 1 if failed else 0
