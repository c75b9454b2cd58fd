#!/usr/bin/env python
"""The README's cost of content fingerprints, generated from the committed benchmark file
``benchmarks/results/fingerprint-cost.json`` (``benchmarks/test_fingerprint_cost.py``),
extrapolated to TAU Urban Acoustic Scenes 2022 Mobile (230,350 files, 27,503,592,469 B of
archives; the extracted WAVs are about that size).

    python scripts/readme_fingerprint_cost.py --write     # rewrite README.md's block
    python scripts/readme_fingerprint_cost.py --check     # exit 1 if README.md differs
"""

from __future__ import annotations

from pathlib import Path

import readme_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fingerprint-cost.json"
NAME = "fingerprint-cost"
TAU2022_FILES, TAU2022_BYTES = 230_350, 27_503_592_469


def block() -> str:
    info, cpu, date = readme_block.benchmark_extra(RESULTS)
    cold_tau = TAU2022_BYTES / (info["hash_mb_per_s"] * 1e6)
    warm_tau = TAU2022_FILES * info["stat_us_per_file"] / 1e6
    return readme_block.from_results(
        NAME,
        __file__,
        RESULTS,
        f"On the default dataset ({info['files']:,} files, {info['bytes'] / 1e6:.0f} MB) the "
        f"fingerprint costs {info['cold_s']:.2f} s the first time (every file hashed, "
        f"{info['hash_mb_per_s']:.0f} MB/s) and {info['warm_s'] * 1e3:.0f} ms after that "
        f"({info['stat_us_per_file']:.1f} µs per file to stat it). Extrapolated to TAU 2022 "
        f"Mobile ({TAU2022_FILES:,} files, {TAU2022_BYTES / 1e9:.1f} GB): about "
        f"{cold_tau / 60:.1f} min once, then about {warm_tau:.1f} s per run ({cpu}, {date}; "
        "disk speed decides the first number).",
    )


if __name__ == "__main__":
    raise SystemExit(readme_block.main(NAME, block, "scripts/readme_fingerprint_cost.py"))
