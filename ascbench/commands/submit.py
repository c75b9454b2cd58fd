"""``ascbench submit``: DCASE submission files from a leaderboard entry and its predictions.

Writes ``<out>/<label>/<label>.output.csv`` and ``<out>/<label>/<label>.meta.yaml``. The
meta.yaml complexity and development results are the entry's *measured* values; names,
authors and the system description come from ``--info`` (a meta.yaml-shaped YAML file), else
from an existing ``<label>.meta.yaml`` in the output folder (so hand-filled fields survive a
re-run), else they are left null to fill in.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

NAME = "submit"
HELP = "write DCASE submission files (output CSV + meta.yaml) from measured results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--entry",
        type=Path,
        required=True,
        metavar="FILE",
        help="leaderboard entry (<results>/<ruleset>/<system>/seed<k>.json)",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        metavar="FILE",
        help="per-clip predictions CSV (tab-separated: filename, scene_label, one probability "
        "column per scene); default: the predictions file recorded with the entry",
    )
    parser.add_argument(
        "--label", required=True, help="submission label, e.g. Smith_TUNI_task1_1 (2022)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="writes DIR/<label>/<label>.output.csv and DIR/<label>/<label>.meta.yaml",
    )
    parser.add_argument(
        "--info",
        type=Path,
        metavar="FILE",
        help="YAML with the 'submission' (name, abbreviation, authors) and 'system' "
        "(description, external_datasets, source_code) blocks of a meta.yaml",
    )
    parser.add_argument(
        "--eval-set",
        action="store_true",
        help="require evaluation-set predictions (0.wav … N-1.wav, all of them)",
    )
    parser.add_argument(
        "--allow-noncompliant",
        action="store_true",
        help="write files even if the entry breaks a complexity limit",
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: argparse.Namespace, ctx: object) -> int:
    from ascbench.leaderboard._io import atomic_write_text, read_json
    from ascbench.leaderboard.entry import parse_entry
    from ascbench.submission import (
        SubmissionError,
        SubmissionInfo,
        build_meta,
        check_eval_names,
        check_meta,
        check_output_text,
        eval_index,
        load_submission_info,
        output_csv_text,
        read_output_csv,
        submission_format,
        submission_paths,
        validate_label,
        write_meta_yaml,
    )

    entry = parse_entry(read_json(args.entry, SubmissionError), str(args.entry))
    ruleset = entry.ruleset.name
    fmt = submission_format(ruleset)
    validate_label(args.label, ruleset)
    csv_path, meta_path = submission_paths(args.out, args.label)

    recorded = entry.artifacts.get("predictions")
    predictions = args.predictions
    if predictions is None:
        if recorded is None:
            raise SubmissionError(
                f"{args.entry}: no predictions file is recorded with the entry; pass "
                "--predictions FILE"
            )
        predictions = args.entry.parent / recorded.path
        if predictions.exists() and _sha256(predictions) != recorded.sha256:
            raise SubmissionError(
                f"{predictions}: content differs from the predictions recorded with the entry "
                "(sha256 mismatch); restore the file or re-run the system"
            )
    names, probabilities = read_output_csv(predictions)

    if args.eval_set:
        check_eval_names(names, ruleset)
    elif not names or any(eval_index(n) is None for n in names):
        print(
            f"ascbench: note: {predictions} holds development-set predictions; the official "
            f"validator accepts only the {fmt.eval_files} evaluation-set files 0.wav … "
            f"{fmt.eval_files - 1}.wav (use --eval-set for those)",
            file=sys.stderr,
        )

    info: SubmissionInfo | None = None
    if args.info:
        info = load_submission_info(args.info)
    elif meta_path.exists():
        info = load_submission_info(meta_path)

    # build and check everything before writing anything
    meta = build_meta(args.label, entry, None, info, allow_noncompliant=args.allow_noncompliant)
    text = output_csv_text(names, probabilities, where=str(predictions))
    problems = check_output_text(text, eval_files=fmt.eval_files if args.eval_set else None)
    if problems:
        raise SubmissionError(
            f"{csv_path}: output would not pass the validator: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )
    atomic_write_text(csv_path, text)
    write_meta_yaml(
        meta_path, args.label, entry, None, info, allow_noncompliant=args.allow_noncompliant
    )
    problems = check_meta(meta, ruleset)
    todo = [p.removesuffix(" is not filled in") for p in problems if p.endswith("not filled in")]
    for problem in problems:
        if not problem.endswith("not filled in"):
            print(f"ascbench: warning: {meta_path}: {problem}", file=sys.stderr)
    if todo:
        print(
            f"ascbench: note: fill in {len(todo)} fields of {meta_path} before submitting "
            f"({', '.join(todo)}), or pass --info FILE",
            file=sys.stderr,
        )
    print(csv_path)
    print(meta_path)
    return 0
