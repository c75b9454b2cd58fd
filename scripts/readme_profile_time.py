#!/usr/bin/env python
"""The README's ``ascbench profile`` time, generated from the committed benchmark file.

``benchmarks/results/profile-time.json`` is the pytest-benchmark JSON of
``benchmarks/test_profile_time.py`` (every installed system, one system and every system from
the cache, interleaved in one run). The generated text sits in README.md between
``<!-- profile-time:begin -->`` and ``<!-- profile-time:end -->``.

    pytest benchmarks/test_profile_time.py --benchmark-only \
        --benchmark-json=benchmarks/results/profile-time.json
    python scripts/readme_profile_time.py --write     # rewrite README.md's block
    python scripts/readme_profile_time.py --check     # exit 1 if README.md differs

Uses the standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path

import readme_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "profile-time.json"
NAME = "profile-time"


def block(results: dict) -> str:
    """The README text for one pytest-benchmark JSON of ``test_profile_every_system``."""
    bench = next(b for b in results["benchmarks"] if b["name"] == "test_profile_every_system")
    info = bench["extra_info"]
    machine = results["machine_info"]
    cpu = machine.get("cpu", {}).get("brand_raw", "unknown CPU")
    sentence = (
        f"`ascbench profile --rules dcase2022` measures all {info['systems']} bundled systems "
        f"in **{info['all_s']:.1f} s** from an empty cache, {info['ratio']:.2f}x the "
        f"{info['one_s']:.1f} s of profiling `dcase2022_baseline` alone (start-up and plugin "
        f"loading included), and reads them back from the cache in {info['cached_s']:.1f} s "
        f"(median of {bench['stats']['rounds']} interleaved rounds, {info['cpus']} cores, "
        f"{cpu}, {results['datetime'][:10]})."
    )
    source = "benchmarks/results/" + RESULTS.name
    return readme_block.generated(NAME, "scripts/" + Path(__file__).name, source, sentence)


def main(argv: list[str] | None = None) -> int:
    return readme_block.main(
        NAME, lambda: block(json.loads(RESULTS.read_text())), Path(__file__).name, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
