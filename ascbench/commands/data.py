"""``ascbench data``: synthesise, check and describe datasets.

``ascbench data synth OUT`` writes the synthetic TAU-shaped dataset; ``ascbench data check
PATH`` prints what a dataset folder holds and every problem found (exit status 1 if there are
errors); ``ascbench data default`` generates (once) and shows the cached synthetic default.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

NAME = "data"
HELP = "create the synthetic TAU-shaped dataset or check a dataset folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    _add_synth(sub)
    _add_check(sub)
    _add_default(sub)
    parser.set_defaults(_data_parser=parser)


def _add_synth(sub: argparse._SubParsersAction) -> None:
    synth = sub.add_parser(
        "synth",
        help="write a small synthetic dataset in the official TAU layout",
        description="Write a deterministic synthetic acoustic-scene dataset in the exact layout "
        "and file-name grammar of TAU Urban Acoustic Scenes 2022 Mobile (1-s clips) or 2020 "
        "Mobile (10-s clips). Counts are per scene. Results on it are NOT comparable with DCASE "
        "results.",
    )
    synth.add_argument("out", metavar="OUT", help="folder to create (must not exist or be empty)")
    synth.add_argument("--style", choices=("tau2022", "tau2020"), default="tau2022",
                       help="tau2022: 1-s clips (default); tau2020: 10-s clips")  # fmt: skip
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument(
        "--locations-train",
        type=int,
        metavar="N",
        help="training locations per scene (default 6; tau2020: 5)",
    )
    synth.add_argument(
        "--locations-test", type=int, metavar="N", help="test locations per scene (default 3)"
    )
    synth.add_argument(
        "--train-a",
        type=int,
        metavar="N",
        help="device-a training segments per scene (default 30; tau2020: 20)",
    )
    synth.add_argument("--train-per-device", type=int, metavar="N",
                       help="training recordings per scene on each of b, c, s1-s3 (default 3; "
                       "tau2020: 2)")  # fmt: skip
    synth.add_argument(
        "--test-per-device",
        type=int,
        metavar="N",
        help="test recordings per scene on each of the 9 devices (default 2)",
    )
    synth.add_argument(
        "--slices",
        type=int,
        metavar="K",
        help="tau2022: 1-s slices kept per 10-s recording, 1-10 (default 3)",
    )
    synth.add_argument("--spread", type=float, metavar="X",
                       help="how much locations of a scene differ (default 0.75; higher = "
                       "harder)")  # fmt: skip
    synth.add_argument(
        "--scenes", metavar="LIST", help="comma-separated subset of the ten scenes (default: all)"
    )
    synth.add_argument("--force", action="store_true", help="replace OUT if it exists")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_check(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="check a dataset and print what it holds",
        description="Check a dataset (a TAU root with meta.csv and audio/, a labels CSV or a "
        "folder with labels.csv, or 'synthetic[:tau2022|tau2020]') and print its layout, "
        "counts per split/device/scene, clip length, sample rate and every problem. Exit "
        "status 1 if there are errors.",
    )
    check.add_argument("path", metavar="PATH", help="dataset root, labels CSV or 'synthetic'")
    _common_options(check)
    check.add_argument("--full", action="store_true",
                       help="read every audio header, not a sample of 256 (and verify the "
                       "content hash of synthetic data)")  # fmt: skip
    check.add_argument(
        "--decode",
        action="store_true",
        help="decode every audio file to find unusable audio (slow)",
    )
    check.add_argument(
        "--evaluation-only", action="store_true",
        help="check a set for evaluating released weights (`run --weights`): no training clips "
        "needed, and without a split column every clip is a test clip",
    )  # fmt: skip


def _add_default(sub: argparse._SubParsersAction) -> None:
    default = sub.add_parser(
        "default",
        help="generate (once) and show the cached synthetic default dataset",
        description="Generate the synthetic default dataset into the cache if needed and print "
        "where it is and what it holds.",
    )
    default.add_argument("--clip-seconds", type=float, default=1.0,
                         help="1 (tau2022 style, default) or 10 (tau2020 style)")  # fmt: skip


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--split", default="fold1",
                        help="training list: fold1 (default), split5/10/25/50/100 (DCASE 2024) "
                        "or the path of a split CSV")  # fmt: skip
    parser.add_argument(
        "--clip-seconds",
        type=float,
        default=None,
        help="require this clip length (1 for DCASE 2022, 10 for DCASE 2021)",
    )
    parser.add_argument(
        "--skip-missing",
        action="store_true",
        help="leave out listed files that are missing (recorded in the notes)",
    )
    parser.add_argument(
        "--skip-unknown-labels",
        action="store_true",
        help="labels CSV: leave out rows whose label is not a DCASE scene",
    )


def run(args: argparse.Namespace, ctx: object) -> int:
    action = getattr(args, "data_command", None)
    if action == "synth":
        return _synth(args)
    if action == "check":
        return _check(args)
    if action == "default":
        return _default(args)
    args._data_parser.print_help()
    return 0


def _synth(args: argparse.Namespace) -> int:
    from ascbench.data.synth import SynthConfig, synthesize
    from ascbench.errors import DatasetError, first_problem

    overrides = {k: v for k, v in {
        "seed": args.seed, "locations_train": args.locations_train,
        "locations_test": args.locations_test, "train_a": args.train_a,
        "train_per_device": args.train_per_device, "test_per_device": args.test_per_device,
        "slices": args.slices, "location_spread": args.spread,
        "scenes": tuple(s.strip() for s in args.scenes.split(",")) if args.scenes else None,
    }.items() if v is not None}  # fmt: skip
    try:
        config = SynthConfig.default(args.style, **overrides)
    except ValueError as exc:  # pydantic ValidationError
        where, msg, _ = first_problem(exc) if hasattr(exc, "errors") else ("", str(exc), 0)
        raise DatasetError(f"invalid synthetic size: {where + ': ' if where else ''}{msg}; "
                           "see `ascbench data synth --help`") from None  # fmt: skip
    counts = config.expected_counts()
    print(f"synthesising {config.style}: {counts['train']} train + {counts['test']} test clips "
          f"of {config.clip_seconds:g} s (seed {config.seed}) into {args.out}",
          file=sys.stderr)  # fmt: skip
    start = time.perf_counter()
    out = synthesize(args.out, config, progress=not args.quiet, overwrite=args.force)
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s "
          "(synthetic data: results are NOT comparable with DCASE results)")  # fmt: skip
    return 0


def _check(args: argparse.Namespace) -> int:
    from ascbench.data.loader import check_dataset

    report = check_dataset(
        args.path, clip_seconds=args.clip_seconds, split=args.split,
        skip_missing=args.skip_missing, skip_unknown_labels=args.skip_unknown_labels,
        headers="all" if args.full else "sample", decode=args.decode, progress=True,
        evaluation_only=args.evaluation_only,
    )  # fmt: skip
    print_report(report)
    return 0 if report.ok else 1


def _default(args: argparse.Namespace) -> int:
    from ascbench.data.loader import check_dataset, style_for

    style = style_for(args.clip_seconds)
    report = check_dataset(f"synthetic:{style}", clip_seconds=args.clip_seconds, progress=True)
    print_report(report)
    return 0 if report.ok else 1


def print_report(report) -> None:  # noqa: ANN001 - DataReport
    """Print a :class:`~ascbench.data.checks.DataReport` for people."""
    print(f"dataset: {report.path}")
    for fact in report.facts:
        print(f"  {fact}")
    if report.dataset is not None:
        _print_dataset(report.dataset)
    _print_problems(report)


def _print_dataset(ds) -> None:  # noqa: ANN001 - Dataset
    """Name, clip length, sample rate, clips per split and device/scene, locations, notes."""
    from ascbench.scenes import DEVICES

    print(f"  name: {ds.name}   clip length: {ds.clip_seconds:g} s   sample rate: "
          f"{ds.sample_rate} Hz")  # fmt: skip
    parts = list(ds.splits)
    devices = Counter(c.device or "?" for clips in ds.splits.values() for c in clips)
    order = [d for d in DEVICES if d in devices] + sorted(set(devices) - set(DEVICES))
    _table("clips per split and device", parts, order,
           {p: Counter(c.device or "?" for c in ds.splits[p]) for p in parts})  # fmt: skip
    _print_scenes(ds, parts)
    locs = {p: len({c.identifier for c in ds.splits[p] if c.identifier}) for p in parts}
    print("  locations: " + ", ".join(f"{p} {n}" for p, n in locs.items()))
    for note in ds.notes:
        print(f"  note: {note}")


def _print_scenes(ds, parts: list[str]) -> None:  # noqa: ANN001 - Dataset
    from ascbench.scenes import SCENES

    per_scene = {p: Counter(c.scene_label for c in ds.splits[p]) for p in parts}
    print("  clips per scene and split:")
    print("    " + "scene".ljust(19) + "".join(p.rjust(8) for p in parts))
    for scene in SCENES:
        print("    " + scene.ljust(19) + "".join(str(per_scene[p][scene]).rjust(8)
                                               for p in parts))  # fmt: skip


def _print_problems(report) -> None:  # noqa: ANN001 - DataReport
    """The warnings and errors, then OK or how many problems were found."""
    for warning in report.warnings:
        print(f"  warning: {warning}")
    for error in report.errors:
        print(f"  ERROR: {error}")
    if report.ok:
        print("OK" + (f" ({len(report.warnings)} warning(s))" if report.warnings else ""))
    else:
        print(f"{len(report.errors)} problem(s) found")


def _table(title: str, rows: list[str], cols: list[str], counts: dict[str, Counter]) -> None:
    width = max(6, *(len(c) + 1 for c in cols)) if len(cols) <= 12 else 0
    print(f"  {title}:")
    if width:
        print("    " + "split".ljust(8) + "".join(c.rjust(width) for c in cols) + "total".rjust(8))
        for r in rows:
            print("    " + r.ljust(8) + "".join(str(counts[r][c]).rjust(width) for c in cols)
                  + str(sum(counts[r].values())).rjust(8))  # fmt: skip
    else:
        for r in rows:
            print(f"    {r}: " + ", ".join(f"{c} {counts[r][c]}" for c in cols))
