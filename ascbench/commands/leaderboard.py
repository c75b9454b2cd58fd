"""``ascbench leaderboard``: show, merge, render and publish leaderboards from result files.

- ``show [INPUT...] [--results DIR] [--rules R]``: the ranked table in the terminal;
- ``merge INPUT... --out DIR``: merge result directories, entry files and leaderboard files
  (hashes verified, duplicates resolved) into a result store plus ``leaderboard-<rs>.json``;
- ``render [--results DIR | --input FILE...] --out DIR``: Markdown, HTML, JSON, PNG and SVG;
- ``publish INPUT... [--out DIR] [--rules R]``: verify every input strictly and write the
  canonical ``leaderboard/`` directory (``<rs>.{json,md,html}``, ``pareto-<rs>.{png,svg}``,
  ``schema.json``, ``index.html``); any bad or conflicting entry refuses with exit status 1;
- ``schema [--out FILE]``: the JSON schema of entry and leaderboard files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ascbench.leaderboard.defaults import DEFAULT_OUT, DEFAULT_RESULTS
from ascbench.text import count

NAME = "leaderboard"
HELP = "show, merge, render and publish leaderboards from result files"


def _add_common(parser: argparse.ArgumentParser, *, rules: bool = True) -> None:
    if rules:
        parser.add_argument(
            "--rules",
            metavar="R",
            help="only the board of rule set R (a name such as dcase2022, or a rule-set file)",
        )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="skip malformed or tampered result files with a warning instead of stopping",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="leaderboard_action", metavar="ACTION", required=True)

    show = sub.add_parser("show", help="print the ranked table(s) in the terminal")
    show.add_argument(
        "inputs",
        nargs="*",
        type=Path,
        metavar="INPUT",
        help="results directory, entry or leaderboard file, or published leaderboard directory "
        "(default: --results)",
    )
    show.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help=f"results directory (default: {DEFAULT_RESULTS})",
    )
    show.add_argument(
        "--reported", action="store_true", help="also show the numbers the reports state"
    )
    _add_common(show)

    merge = sub.add_parser(
        "merge",
        help="merge result directories, entry files and leaderboard files into one store",
        description="Merge INPUTs (result directories, seed<k>.json entry files, "
        "leaderboard-<rs>.json files) and what DIR already holds. Every entry hash is verified; "
        "identical duplicates collapse, conflicting ones stop the merge unless --prefer-newest.",
    )
    merge.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    merge.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="merged store (<ruleset>/<system>/seed<k>.json) and leaderboard-<ruleset>.json",
    )
    merge.add_argument(
        "--prefer-newest",
        action="store_true",
        help="for conflicting duplicates keep the entry that finished last (and replace it in DIR)",
    )
    _add_common(merge, rules=False)

    render = sub.add_parser(
        "render", help="write Markdown, HTML, JSON and the Pareto plot (PNG, SVG)"
    )
    source = render.add_mutually_exclusive_group()
    source.add_argument(
        "--results",
        type=Path,
        metavar="DIR",
        help=f"results directory (default: {DEFAULT_RESULTS})",
    )
    source.add_argument(
        "--input",
        type=Path,
        action="append",
        metavar="FILE",
        help="entry or leaderboard JSON file, or results directory (repeatable)",
    )
    render.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="leaderboard-<ruleset>.{md,html,json}, pareto-<ruleset>.{png,svg}, index.html",
    )
    render.add_argument("--no-plots", action="store_true", help="skip the PNG/SVG plots")
    _add_common(render)

    _add_publish(sub)

    schema = sub.add_parser("schema", help="print or write the JSON schema of result files")
    schema.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE")


def _add_publish(sub: argparse._SubParsersAction) -> None:
    publish = sub.add_parser(
        "publish",
        help="verify results and write the published leaderboard directory",
        description="Verify INPUTs (result directories, entry files, leaderboard files, a "
        "published leaderboard directory) strictly: every file is validated against the schema "
        "and its entry hashes checked; malformed, tampered, hash-less or conflicting entries "
        "make publish refuse (exit status 1) without changing DIR. Otherwise write, per rule "
        "set, <rs>.json, <rs>.md, <rs>.html and pareto-<rs>.png/.svg, plus schema.json and "
        "index.html, into DIR. The same inputs give byte-identical files.",
    )
    publish.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    publish.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"published leaderboard directory (default: {DEFAULT_OUT})",
    )
    publish.add_argument(
        "--rules",
        metavar="R",
        help="publish only the board of rule set R (a name, or a rule-set file); the other "
        "boards already in DIR are kept",
    )
    publish.add_argument(
        "--skip-invalid",
        action="store_true",
        help="leave malformed or tampered files out with a warning instead of refusing "
        "(conflicting entries still refuse)",
    )
    publish.add_argument(
        "--sign", type=Path, metavar="KEY",
        help="sign each board JSON with this Ed25519 private key (writes <rs>.json.sig)",
    )  # fmt: skip
    verify = sub.add_parser(
        "verify",
        help="check entries against their own predictions and labels, and board signatures",
        description="Recompute every entry's metrics from the predictions and test labels "
        "beside it and check that entries on one dataset share their labels; with "
        "--public-key, check the Ed25519 signature of every board JSON given or found in a "
        "published directory. Exit status 1 on any problem.",
    )
    verify.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    verify.add_argument("--public-key", type=Path, metavar="KEY.pub",
                        help="the publisher's public key (from `leaderboard keygen`)")  # fmt: skip
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing boards")
    keygen.add_argument("out", type=Path, metavar="KEY",
                        help="private key file (KEY.pub gets the public key)")  # fmt: skip


def _rules_name(rules: str | None) -> str | None:
    """A rule-set name from --rules, reading the name from a rule-set file if one is given."""
    if rules is None:
        return None
    if Path(rules).suffix.lower() in {".toml", ".yaml", ".yml", ".json"}:
        from ascbench.rules import load_ruleset_file

        return load_ruleset_file(rules).name
    return rules


def _warn(errors: list[str]) -> None:
    for error in errors:
        print(f"ascbench: warning: skipped {error}", file=sys.stderr)


def run(args: argparse.Namespace, ctx: object) -> int:
    action = args.leaderboard_action
    if action == "schema":
        return _schema(args)
    if action == "publish":
        return _publish(args)
    if action == "verify":
        return _verify(args)
    if action == "keygen":
        from ascbench.leaderboard.signing import generate_key

        private, public = generate_key(args.out)
        print(f"private key: {private} (keep it; readable by you only)\npublic key: {public}")
        return 0
    errors: list[str] | None = [] if args.skip_invalid else None
    try:
        if action == "show":
            return _show(args, errors)
        if action == "merge":
            return _merge(args, errors)
        return _render(args, errors)
    finally:
        _warn(errors or [])


def _show(args: argparse.Namespace, errors: list[str] | None) -> int:
    from ascbench.leaderboard.board import merge
    from ascbench.leaderboard.render import render_text, select_boards

    inputs = [*args.inputs, *([args.results] if args.results else [])] or [DEFAULT_RESULTS]
    boards = merge(inputs, errors=errors)
    rules = _rules_name(args.rules)
    if rules is not None:
        boards = select_boards(boards, rules)
    print("\n".join(render_text(b, reported=args.reported) for b in boards.values()), end="")
    return 0


def _merge(args: argparse.Namespace, errors: list[str] | None) -> int:
    from ascbench.leaderboard.board import merge, write_merged
    from ascbench.leaderboard.store import ResultStore
    from ascbench.leaderboard.verify import evidence_files, find_evidence, verify_all

    inputs = list(args.inputs)
    if ResultStore(args.out).entry_files():  # what DIR already holds takes part in the merge
        inputs.append(args.out)
    prefer = "newest" if args.prefer_newest else "error"
    boards = merge(inputs, prefer=prefer, errors=errors)
    entries = [e for board in boards.values() for e in board.entries]
    verified, unverified, problems = verify_all(entries, lambda e: find_evidence(e, inputs))
    for problem in problems:
        print(f"ascbench: error: {problem}", file=sys.stderr)
    if problems:
        print(f"ascbench: error: merge refused; nothing in {args.out} was changed",
              file=sys.stderr)  # fmt: skip
        return 1
    # the evidence is read before any entry is written into DIR (which may be an input)
    evidence = evidence_files(entries, verified, args.out)
    write_merged(boards, args.out, overwrite=args.prefer_newest)
    from ascbench.atomic import atomic_write_bytes

    for target, data in evidence.items():
        atomic_write_bytes(target, data)
    for name, board in boards.items():
        print(
            f"{name}: {count(len(board.entries), 'entry')} of "
            f"{count(len(board.rows), 'system')} -> "
            f"{args.out / name}/, {args.out / f'leaderboard-{name}.json'}"
        )
    print(f"verified: {len(verified)} of {len(entries)} entries give their metrics again from "
          "their own predictions and test labels")  # fmt: skip
    if unverified:
        example = unverified[0]
        print(f"ascbench: warning: {len(unverified)} entries could not be verified (no "
              f"predictions and labels beside them, e.g. {example})", file=sys.stderr)  # fmt: skip
    return 0


def _render(args: argparse.Namespace, errors: list[str] | None) -> int:
    from ascbench.leaderboard.board import merge
    from ascbench.leaderboard.render import render_all, select_boards

    inputs = args.input or [args.results or DEFAULT_RESULTS]
    boards = merge(inputs, errors=errors)
    rules = _rules_name(args.rules)
    if rules is not None:
        boards = select_boards(boards, rules)
    for path in render_all(boards, args.out, plots=not args.no_plots):
        print(path)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from ascbench.leaderboard.publish import PublishRefused, publish

    try:
        done = publish(
            args.inputs, args.out, rules=_rules_name(args.rules), skip_invalid=args.skip_invalid,
            sign=args.sign,
        )  # fmt: skip
    except PublishRefused as exc:
        for problem in exc.problems:
            print(f"ascbench: error: {problem}", file=sys.stderr)
        print(
            f"ascbench: error: publish refused ({len(exc.problems)} problem"
            f"{'s' if len(exc.problems) != 1 else ''}); nothing in {args.out} was changed",
            file=sys.stderr,
        )
        return 1
    _warn(done.skipped)
    for path in done.written:
        print(path)
    for path in done.kept:
        print(f"{path}: kept unchanged (its rule set was not published this time)")
    for name, board in done.boards.items():
        statuses = [row.status for row in board.rows]
        counts = ", ".join(
            f"{statuses.count(s)} {s}"
            for s in ("ok", "degenerate", "noncompliant", "failed")
            if s in statuses
        )
        print(
            f"published {name}: {count(len(board.entries), 'entry')} of "
            f"{count(len(board.rows), 'system')} "
            f"({counts}) -> {args.out}"
        )
    total = done.verified + len(done.unverified)
    print(f"verified: {done.verified} of {total} entries give their metrics again from their "
          "own predictions and test labels")  # fmt: skip
    if done.unverified:
        print(
            f"ascbench: warning: {len(done.unverified)} entries could not be verified (no "
            f"predictions and labels files beside them, e.g. {done.unverified[0]}); publish "
            "from the results directory to verify them",
            file=sys.stderr,
        )
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ascbench.leaderboard.publish import PublishRefused, board_files, collect
    from ascbench.leaderboard.signing import check_signature

    problems: list[str] = []
    try:
        collected = collect(args.inputs)
    except PublishRefused as exc:
        problems += exc.problems
        collected = None
    if args.public_key is not None:
        boards = [b for path in args.inputs
                  for b in (board_files(path) if path.is_dir() else [path])]  # fmt: skip
        problems += [p for b in boards if (p := check_signature(b, args.public_key))]
        if not boards:
            problems.append("no board JSON files to check the signature of; give a published "
                            "directory or <rs>.json")  # fmt: skip
    for problem in problems:
        print(f"ascbench: error: {problem}", file=sys.stderr)
    if collected is not None:
        total = len(collected.verified) + len(collected.unverified)
        print(f"verified: {len(collected.verified)} of {total} entries give their metrics "
              "again from their own predictions and test labels")  # fmt: skip
        for label in collected.unverified:
            print(f"unverifiable (no predictions and labels beside it): {label}")
    if args.public_key is not None and not problems:
        print(f"signatures: every board is signed by {args.public_key}")
    return 1 if problems else 0


def _schema(args: argparse.Namespace) -> int:
    from ascbench.leaderboard.schema import schema_text, write_schema

    if args.out:
        print(write_schema(args.out))
    else:
        print(schema_text(), end="")
    return 0
