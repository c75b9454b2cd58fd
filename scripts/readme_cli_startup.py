#!/usr/bin/env python
"""The README's command-line start-up numbers, generated from the committed benchmark file.

``benchmarks/results/cli-startup.json`` is the pytest-benchmark JSON of
``benchmarks/test_cli_startup.py`` (``ascbench --help`` and ``python -c pass``, interleaved in
one run). The generated text sits in README.md between ``<!-- cli-startup:begin -->`` and
``<!-- cli-startup:end -->``.

    pytest benchmarks/test_cli_startup.py --benchmark-only \
        --benchmark-json=benchmarks/results/cli-startup.json
    python scripts/readme_cli_startup.py --write     # rewrite README.md's block
    python scripts/readme_cli_startup.py --check     # exit 1 if README.md differs

Uses the standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path

import readme_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cli-startup.json"


def block(results: dict) -> str:
    """The README text for one pytest-benchmark JSON of ``test_help_starts_fast``."""
    bench = next(b for b in results["benchmarks"] if b["name"] == "test_help_starts_fast")
    info = bench["extra_info"]
    machine = results["machine_info"]
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    when = results["datetime"][:10]
    return readme_block.from_results("cli-startup", __file__, RESULTS, (
        f"`ascbench --help` starts in **{info['help_s'] * 1e3:.0f} ms**, "
        f"{info['ratio']:.2f}x the {info['python_pass_s'] * 1e3:.0f} ms of `python -c pass` "
        f"(median of {bench['stats']['rounds']} interleaved rounds, {cpu}, "
        f"{machine.get('python_implementation', 'Python')} {machine.get('python_version', '')}, "
        f"{when}); building the parser imports no torch, numpy or pydantic "
        "(`tests/core/test_architecture.py`)."
    ))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return readme_block.main(
        "cli-startup", lambda: block(json.loads(RESULTS.read_text())), Path(__file__).name, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
