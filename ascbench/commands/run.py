"""``ascbench run``: train, compress, evaluate and measure systems; write the leaderboard."""

from __future__ import annotations

import sys
from pathlib import Path

from ascbench.errors import AscbenchError
from ascbench.jobs.plan import DEFAULT_EPOCHS, EXECUTORS, RAY_INSTALL
from ascbench.leaderboard.defaults import DEFAULT_RESULTS
from ascbench.text import count


class OptionsError(AscbenchError):
    """Options of ``ascbench run`` that conflict or are malformed."""


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
        "--all", action="store_true", dest="all_systems",
        help="every installed system; by default a system whose untrained model is over the rule "
        "set's parameter or MAC limit (no compression can bring it under) is left out",
    )  # fmt: skip
    parser.add_argument(
        "--data", metavar="PATH",
        help="dataset root (TAU 2020/2022 Mobile layout) or a labels CSV of a plain audio folder; "
        "default: the embedded synthetic dataset (numbers on it are NOT comparable with DCASE)",
    )  # fmt: skip
    parser.add_argument(
        "--split", type=int, action="append", metavar="PERCENT", choices=[5, 10, 25, 50, 100],
        help="train on the DCASE 2024 training split of PERCENT %% (split_setup/split<N>.csv; "
        "repeatable: one board per split and a table across them); dcase2025 trains on 25 by "
        "default, dcase2024 on 100",
    )  # fmt: skip
    parser.add_argument(
        "--budget", metavar="EPOCHS|TIME",
        help="training per system: epochs ('5'), or a time ('90s', '2m') that becomes as many "
        "epochs as fit on this machine (measured), or both ('20,2m'); default: the training "
        f"compute of {DEFAULT_EPOCHS} epochs at 30 M MACs per second of audio (fewer epochs "
        "for a costlier model; see the README)",
    )  # fmt: skip
    parser.add_argument("--full", action="store_true", help="train with each report's own recipe")
    _add_evaluation(parser)
    seeds = parser.add_argument_group(
        "seeds", "several seeds give mean, standard deviation and 95 % confidence interval"
    )
    seeds.add_argument(
        "--seed", type=int, action="append", metavar="N", help="seed (repeatable; default 0)"
    )
    seeds.add_argument("--seeds", metavar="N,N,...", help="seeds as a list, e.g. 0,1,2")
    seeds.add_argument("--n-seeds", type=int, metavar="N", help="seeds 0 to N-1")
    parser.add_argument(
        "--device", default="cpu", help="torch device for training (cpu, cuda, cuda:1)"
    )
    parser.add_argument(
        "--results",
        default=str(DEFAULT_RESULTS),
        metavar="DIR",
        help=f"results directory (default: {DEFAULT_RESULTS})",
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip (system, seed) pairs already finished"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="threads for audio decoding (default 2)"
    )
    parser.add_argument(
        "--wait", action="store_true",
        help="if another run is writing to --results, wait for it instead of refusing",
    )  # fmt: skip
    parser.add_argument(
        "--skip-missing", action="store_true",
        help="leave out listed audio files that are missing (recorded in each entry's notes)",
    )  # fmt: skip
    parser.add_argument(
        "--cache", metavar="DIR", help="feature cache directory (shared filesystems welcome)"
    )
    parser.add_argument(
        "--no-progress", action="store_true",
        help="no progress bars (they are only drawn on a terminal anyway)",
    )  # fmt: skip
    _add_where(parser)


def _add_evaluation(parser) -> None:
    """Options of evaluating released weights and of test-time augmentation."""
    parser.add_argument(
        "--weights", metavar="PATH",
        help="evaluate released weights instead of training (one --system whose model takes a "
        "'weights' parameter, e.g. the SP4ASC checkpoints: a file or the model's folder); the "
        "data then needs no training clips",
    )  # fmt: skip
    parser.add_argument(
        "--tta", metavar="none|report|N",
        help="test-time augmentation at evaluation: none (one plain pass, as reference numbers "
        "without TTA are made), report (the recipe's own passes, e.g. SP4ASC's 30) or N passes; "
        "default: the recipe's, at most 3 unless --full. Stated in the entry",
    )  # fmt: skip


def _add_where(parser) -> None:
    """Options of the executor: where the jobs run and how many at a time."""
    where = parser.add_argument_group("where the jobs run")
    where.add_argument(
        "--executor", choices=EXECUTORS, default="local",
        help="local: the jobs run on this machine (default; see --jobs); ray: every job a Ray "
        f"task on a local Ray instance or a cluster (needs {RAY_INSTALL}); on several machines "
        "--data, --cache, --results (and ASCBENCH_CACHE) must be paths on a shared filesystem",
    )  # fmt: skip
    where.add_argument(
        "--address", metavar="ADDRESS",
        help="Ray cluster to use ('auto' for the one `ray start` runs here, or host:port); "
        "default: start a local Ray instance",
    )  # fmt: skip
    where.add_argument(
        "--jobs", type=int, metavar="N",
        help="local executor: N jobs at a time, each in a worker process of its own (1: one "
        "after the other in this process); default: one per core on the CPU (cores divided by "
        "--cpus-per-job), 1 with a CUDA device",
    )  # fmt: skip
    where.add_argument(
        "--cpus-per-job", type=int, metavar="N",
        help="CPUs each job asks for and torch threads it runs with (the same N gives the same "
        "numbers with any executor and any --jobs); default: the cores divided by --jobs "
        "(local), 4 or the largest node's cores (ray)",
    )  # fmt: skip


def run(args, ctx) -> int:
    from ascbench.jobs.lock import results_lock

    seeds = parse_seeds(args.seed, args.seeds, args.n_seeds)
    executor = build_executor(args)
    registry = ctx.registry
    broken = [info for info in registry.plugins
              if info.errors and info.origin == "--plugin"]  # fmt: skip
    if broken:  # a plugin the user asked for by name must be there before any job starts
        raise OptionsError(
            f"--plugin {broken[0].name}: {broken[0].errors[0]}; fix it or leave it out"
        )
    ruleset, systems = ctx.selection()
    systems = _systems_to_run(args, registry, ruleset, systems)
    runs = [
        _run_settings(args, variant, systems, split)
        for variant, split in training_splits(ruleset, args.split, args.data)
    ]
    if executor.name == "local":
        from ascbench.training import resolve_device

        resolve_device(args.device)  # fail before any work if the device is not there
    check_results_dir(Path(args.results))
    with results_lock(Path(args.results), wait=args.wait):
        _remove_orphans(Path(args.results))
        return _run_all(args, registry, runs, systems, seeds, executor, ruleset)


def _remove_orphans(results: Path) -> None:
    """Predictions and models of jobs stopped before their entry was written: never part of a
    board, redone by this run; removed (under the run lock) so none is left without its entry."""
    from ascbench.leaderboard import ResultStore

    orphans = ResultStore(results).orphaned_job_files()
    for path in orphans:
        path.unlink(missing_ok=True)
    if orphans:
        print(f"ascbench: removed {len(orphans)} files of jobs stopped before their entry was "
              f"written (e.g. {orphans[0]}); those jobs run again", file=sys.stderr)  # fmt: skip


def _run_all(args, registry, runs, systems, seeds, executor, ruleset) -> int:
    """Every run (one per training split), holding the results directory's lock."""
    from ascbench.jobs.driver import run_jobs

    code = 0
    for settings in runs:
        finished: list = []
        try:
            summary = run_jobs(
                registry, settings, systems, seeds, executor=executor,
                plugins=args.plugin or [], on_entry=finished.append,
            )  # fmt: skip
        except KeyboardInterrupt:
            print(
                f"ascbench: interrupted; finished entries are kept in {settings.results} "
                f"({len(finished)} from this run); run the same command with --resume to do "
                "the rest",
                file=sys.stderr,
            )
            return 130
        _print_leaderboard(settings.results, settings.ruleset.name)
        code = max(code, _print_summary(summary))
    if len(runs) > 1 or runs[0].ruleset.name != ruleset.name:
        _print_split_board(runs[0].results, ruleset.name)
    return code


def check_results_dir(path: Path) -> None:
    """Refuse, before any work, a results path that is a file or cannot be written."""
    import tempfile

    if path.exists() and not path.is_dir():
        raise OptionsError(f"--results {path}: is a file, not a directory; give a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ascbench-write-check-"):
            pass
    except OSError as exc:
        raise OptionsError(
            f"--results {path}: cannot write there ({exc.strerror or exc}); give a writable "
            "directory"
        ) from exc


def training_splits(ruleset, requested: list[int] | None, data: str | None = None) -> list[tuple]:
    """``(rule set, split percent or None)`` per run: the requested DCASE 2024 splits, each a
    rule set of its own (``dcase2024-split5``); a rule set with one allowed split (dcase2025:
    25) trains on it under its own name, or, when ``data`` has no split files, on the whole
    training split with a warning; one without splits on the whole training split."""
    allowed = list(ruleset.training_splits)
    if not requested:
        if len(allowed) == 1:
            split_file = Path(data or ".") / "split_setup" / f"split{allowed[0]}.csv"
            if data is not None and not split_file.is_file():
                print(
                    f"ascbench: warning: {ruleset.name} trains on the {allowed[0]} % split, but "
                    f"{split_file} does not exist: training on the whole training split",
                    file=sys.stderr,
                )
                return [(ruleset, None)]
            return [(ruleset, allowed[0])]
        return [(ruleset.for_split(100), 100)] if allowed else [(ruleset, None)]
    if not allowed:
        raise OptionsError(
            f"--split: rule set '{ruleset.name}' trains on the whole training split; training "
            "splits belong to dcase2024 (5, 10, 25, 50, 100) and dcase2025 (25)"
        )
    bad = [p for p in requested if p not in allowed]
    if bad:
        raise OptionsError(
            f"--split {bad[0]}: rule set '{ruleset.name}' allows "
            + ", ".join(str(p) for p in allowed)
        )
    if len(allowed) == 1:
        return [(ruleset, allowed[0])]
    return [(ruleset.for_split(p), p) for p in dict.fromkeys(requested)]


def _print_split_board(results: Path, base: str) -> None:
    """The table across training splits of ``base`` (all its split boards in ``results``)."""
    from ascbench.atomic import atomic_write_text
    from ascbench.leaderboard.board import merge
    from ascbench.leaderboard.splits import build_split_board, render_split_text, split_boards

    grouped = split_boards(merge([results])).get(base)
    if not grouped:
        return
    board = build_split_board(base, grouped)
    print(render_split_text(board))
    stem = results / f"leaderboard-{base}-splits"
    md = atomic_write_text(stem.with_suffix(".md"), render_split_text(board, markdown=True))
    js = atomic_write_text(stem.with_suffix(".json"), board.to_json())
    print(f"split table written: {md}, {js}")


def _systems_to_run(args, registry, ruleset, systems):
    """The systems of ``--system``/``--all``, else those that can fit the rule set's limits."""
    if args.system or args.all_systems:
        return systems
    systems = eligible_systems(registry, ruleset, systems)
    if not systems:
        raise AscbenchError(
            f"no installed system can fit {ruleset.name}'s parameter and MAC limits; "
            "--all runs them anyway (as noncompliant)"
        )
    return systems


def _run_settings(args, ruleset, systems, split=None):
    """The run's settings from the command line (``--weights`` checked against ``systems``),
    training on the DCASE 2024 split of ``split`` percent (None: the whole training split)."""
    from ascbench.jobs.plan import RunSettings, check_weights, parse_budget, parse_tta

    weights = Path(args.weights) if args.weights else None
    if weights is not None:
        check_weights(systems if args.system else [], weights)
    return RunSettings(
        ruleset=ruleset,
        data=args.data,
        budget=parse_budget(args.budget, full=args.full),
        device=args.device,
        results=Path(args.results),
        resume=args.resume,
        progress=not args.no_progress and sys.stderr.isatty(),
        decode_threads=args.workers,
        cache_root=Path(args.cache) if args.cache else None,
        weights=weights,
        threads=args.cpus_per_job,
        train_split=split,
        skip_missing=args.skip_missing,
        tta=parse_tta(args.tta, systems),
    )


def _print_leaderboard(results: Path, rules: str) -> None:
    """Print the rule set's board from everything in ``results`` and write its renderings."""
    from ascbench.leaderboard.board import group_by_ruleset
    from ascbench.leaderboard.render import render_results, render_text
    from ascbench.leaderboard.store import ResultStore

    store = ResultStore(results)
    entries = [e for e in store.load_all() if e.ruleset.name == rules]
    if entries:
        board = group_by_ruleset(entries)[rules]
        print(render_text(board))
        written = render_results(results, rules=rules)
        print(f"leaderboard written: {', '.join(str(p) for p in written)}")


def _print_summary(summary) -> int:
    """One line on stderr: entries written, skipped, failed, degenerate; 1 if any failed."""
    failed = [e for e in summary.written if e.status == "failed"]
    degenerate = [e for e in summary.written if e.degenerate]
    learned_nothing = f"{len(degenerate)} degenerate (learned nothing), " if degenerate else ""
    print(
        f"{count(len(summary.written), 'entry')} written, "
        f"{len(summary.skipped)} skipped (--resume), "
        f"{len(failed)} failed, {learned_nothing}in {summary.seconds / 60:.1f} min",
        file=sys.stderr,
    )
    return 1 if failed else 0


def eligible_systems(registry, ruleset, systems):
    """The systems whose models can fit ``ruleset`` (``jobs.eligibility.over_fixed_limits``);
    says on stderr which were left out and why. A left-out teacher still runs for its students."""
    from ascbench.jobs.eligibility import over_fixed_limits
    from ascbench.jobs.plan import teachers_of

    kept, left_out = [], []
    for system in systems:
        over = over_fixed_limits(registry, system, ruleset)
        (left_out if over else kept).append((system, over))
    teachers = {t for s, _ in kept for t in teachers_of(s)}
    if left_out:
        names = "; ".join(
            f"{s.name} ({', '.join(over)}"
            + (", still trained as a distillation teacher" if s.name in teachers else "")
            + ")"
            for s, over in left_out
        )
        print(
            f"ascbench: {len(kept)} of {len(systems)} systems can fit {ruleset.name}; left out, "
            f"breaking a limit whatever the training: {names}. --all runs them too",
            file=sys.stderr,
        )
    return [s for s, _ in kept]


def parse_seeds(
    seed: list[int] | None = None, seeds: str | None = None, n_seeds: int | None = None
) -> list[int]:
    """The seeds of ``--seed N`` (repeatable), ``--seeds 0,1,2`` or ``--n-seeds N`` (at most
    one of them; default: seed 0), without repeats, in the order given."""
    given = [flag for flag, value in (("--seed", seed), ("--seeds", seeds),
                                      ("--n-seeds", n_seeds)) if value is not None]  # fmt: skip
    if len(given) > 1:
        raise OptionsError(f"{' and '.join(given)} both name seeds; use only one of them")
    if n_seeds is not None:
        if n_seeds < 1:
            raise OptionsError(f"--n-seeds {n_seeds} must be at least 1")
        values = list(range(n_seeds))
    elif seeds is not None:
        parts = [p.strip() for p in seeds.split(",")]
        if not all(p.isdigit() for p in parts):
            raise OptionsError(
                f"--seeds {seeds!r} is not a list of seeds; use integers >= 0 separated by "
                "commas, e.g. --seeds 0,1,2"
            )
        values = [int(p) for p in parts]
    else:
        values = list(seed or [0])
    negative = [v for v in values if v < 0]
    if negative:
        raise OptionsError(f"seed {negative[0]} is negative; seeds are integers >= 0")
    return list(dict.fromkeys(values))


def build_executor(args):
    """The executor of ``--executor``, its options checked."""
    if args.cpus_per_job is not None and args.cpus_per_job < 1:
        raise OptionsError(f"--cpus-per-job {args.cpus_per_job} must be at least 1")
    if args.executor != "ray":
        if args.address:
            raise OptionsError(
                "--address names a Ray cluster; add --executor ray or drop --address"
            )
        from ascbench.jobs.executors import local_executor
        from ascbench.machine import machine_cores

        jobs = args.jobs
        if jobs is None:  # a GPU runs one job at a time; the CPU one job per core
            cpu = not args.device.startswith("cuda")
            jobs = max(1, machine_cores() // (args.cpus_per_job or 1)) if cpu else 1
        return local_executor(jobs)
    if args.jobs is not None:
        raise OptionsError(
            "--jobs is for the local executor; Ray runs as many jobs as the cluster has CPUs "
            "for (see --cpus-per-job)"
        )
    from ascbench.jobs.executors import RayExecutor, import_ray

    import_ray()  # a one-line error now if Ray is not installed
    return RayExecutor(address=args.address)
