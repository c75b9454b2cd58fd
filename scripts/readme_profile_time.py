#!/usr/bin/env python
"""The README's ``ascbench profile`` time, generated from ``benchmarks/results/profile-time.json``
(``benchmarks/test_profile_time.py``: every installed system, one system, and every system from
the cache, interleaved in one run); rewrite it after a new run of that benchmark with
``--write``, compare with ``--check``.
"""

from __future__ import annotations

from pathlib import Path

import readme_block

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "profile-time.json"


def block() -> str:
    info, cpu, date = readme_block.benchmark_extra(RESULTS)
    sentence = (
        f"`ascbench profile --rules dcase2022` measures all {info['systems']} bundled systems "
        f"in **{info['all_s']:.1f} s** from an empty cache, {info['ratio']:.2f}x the "
        f"{info['one_s']:.1f} s of profiling `dcase2022_baseline` alone (start-up and plugin "
        f"loading included), and reads them back from the cache in {info['cached_s']:.1f} s "
        f"(median of {info['rounds']} interleaved rounds, {info['cpus']} cores, {cpu}, {date})."
    )
    return readme_block.from_results("profile-time", __file__, RESULTS, sentence)


def main(argv: list[str] | None = None) -> int:
    return readme_block.main("profile-time", block, Path(__file__).name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
