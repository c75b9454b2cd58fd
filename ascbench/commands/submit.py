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
        build_meta,
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

    predictions = _predictions_file(args, entry)
    names, probabilities = read_output_csv(predictions)
    _check_names(args, names, predictions, ruleset, fmt.eval_files)
    info = _submission_info(args, meta_path)

    # build and check everything before writing anything
    meta = build_meta(args.label, entry, None, info, allow_noncompliant=args.allow_noncompliant)
    text = output_csv_text(names, probabilities, where=str(predictions))
    _check_output(text, csv_path, fmt.eval_files if args.eval_set else None)
    atomic_write_text(csv_path, text)
    write_meta_yaml(
        meta_path, args.label, entry, None, info, allow_noncompliant=args.allow_noncompliant
    )
    _report_meta_problems(meta, ruleset, meta_path)
    print(csv_path)
    print(meta_path)
    return 0


def _predictions_file(args: argparse.Namespace, entry) -> Path:  # noqa: ANN001
    """``--predictions``, else the predictions file recorded with the entry (its hash checked
    when it exists)."""
    from ascbench.submission import SubmissionError

    if args.predictions is not None:
        return args.predictions
    recorded = entry.artifacts.get("predictions")
    if recorded is None:
        raise SubmissionError(
            f"{args.entry}: no predictions file is recorded with the entry; pass --predictions FILE"
        )
    predictions = args.entry.parent / recorded.path
    if predictions.exists() and _sha256(predictions) != recorded.sha256:
        raise SubmissionError(
            f"{predictions}: content differs from the predictions recorded with the entry "
            "(sha256 mismatch); restore the file or re-run the system"
        )
    return predictions


def _check_names(
    args: argparse.Namespace, names: list[str], predictions: Path, ruleset: str, eval_files: int
) -> None:
    """With ``--eval-set`` the clip names must be the evaluation set's; otherwise a note says
    that development-set predictions do not pass the official validator."""
    from ascbench.submission import check_eval_names, eval_index

    if args.eval_set:
        check_eval_names(names, ruleset)
    elif not names or any(eval_index(n) is None for n in names):
        print(
            f"ascbench: note: {predictions} holds development-set predictions; the official "
            f"validator accepts only the {eval_files} evaluation-set files 0.wav … "
            f"{eval_files - 1}.wav (use --eval-set for those)",
            file=sys.stderr,
        )


def _submission_info(args: argparse.Namespace, meta_path: Path):  # noqa: ANN202
    """The names, authors and description of ``--info``, else of an existing meta.yaml."""
    from ascbench.submission import load_submission_info

    if args.info:
        return load_submission_info(args.info)
    if meta_path.exists():
        return load_submission_info(meta_path)
    return None


def _check_output(text: str, csv_path: Path, eval_files: int | None) -> None:
    """Stop before writing anything if the output CSV would not pass the validator."""
    from ascbench.submission import SubmissionError, check_output_text

    problems = check_output_text(text, eval_files=eval_files)
    if problems:
        raise SubmissionError(
            f"{csv_path}: output would not pass the validator: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
        )


def _report_meta_problems(meta: dict, ruleset: str, meta_path: Path) -> None:
    """Warn about what the validator would reject in the meta.yaml; note the fields to fill."""
    from ascbench.submission import check_meta

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
