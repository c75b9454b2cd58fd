"""Generated README blocks: text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``.

The ``readme_*.py`` scripts make a block from a committed file and call :func:`main` here with
``--write`` (rewrite README.md), ``--check`` (exit 1 if README.md differs; a test runs it) or
neither (print the block). Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def replace(readme: str, name: str, text: str) -> str:
    """``readme`` with block ``name`` replaced by ``text`` (which carries both markers)."""
    begin, end = markers(name)
    if readme.count(begin) != 1 or readme.count(end) != 1:
        raise SystemExit(f"{README}: needs exactly one {begin} and one {end} line")
    head, rest = readme.split(begin, 1)
    return head + text + rest.split(end, 1)[1]


def main(name: str, make: Callable[[], str], script: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"README block '{name}'")
    parser.add_argument("--write", action="store_true", help="rewrite README.md's block")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    args = parser.parse_args(argv)
    readme = README.read_text()
    new = replace(readme, name, make())
    if args.write:
        README.write_text(new)
    elif args.check and new != readme:
        print(f"{README}: the {name} block is stale; run {script} --write")
        return 1
    elif not args.check:
        begin, end = markers(name)
        sys.stdout.write(new.split(begin, 1)[1].split(end, 1)[0].strip() + "\n")
    return 0
