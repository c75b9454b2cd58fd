#!/usr/bin/env python
"""The README's training-step speed table, generated from
``benchmarks/results/training-speed.json`` (``benchmarks/test_training_speed.py``: every
installed system's training step on one thread, this checkout's trainer and the base commit's
side by side, against a dense fp32 matmul measured in the same run); rewrite it after a new
run of that benchmark with ``--write``, compare with ``--check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import readme_block

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "training-speed.json"

#: Op categories shown as a step's biggest time shares (the benchmark's names).
SHOWN_SHARES = 2


def _shares(shares: dict[str, float]) -> str:
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:SHOWN_SHARES]
    return ", ".join(f"{name} {share * 100:.0f} %" for name, share in top)


def _row(info: dict) -> str:
    new = info["new"]
    base = info.get("base")
    cells = [
        f"`{info['system']}`",
        str(info["batch"]),
        f"{base['step_seconds'] * 1e3:,.0f}" if base else "—",
        f"{new['step_seconds'] * 1e3:,.0f}",
        f"{info['speedup']:.2f}x" if base else "—",
        f"{new['macs_per_s'] / 1e9:.1f}",
        f"{new['ratio_to_dense']:.2f}",
        _shares(new["time_shares"]) if "time_shares" in new else "",
    ]
    return "| " + " | ".join(cells) + " |"


def block() -> str:
    results = json.loads(RESULTS.read_text())
    means = results["training_speed"]["geomean_ratio_to_dense"]
    rows = sorted((b["extra_info"] for b in results["benchmarks"]), key=lambda i: i["system"])
    _, cpu, date = readme_block.benchmark_extra(RESULTS)
    first = rows[0]
    head = [
        "| system | batch | base ms | new ms | speed-up | GMAC/s | ratio to dense | "
        "where the new step's time goes |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    sentence = (
        f"One training step on one thread ({cpu}, {date}; CPU time, median step of an epoch "
        f"after a warm-up epoch), this checkout against commit {first['base_commit']} in the "
        f"same run; GMAC/s counts the multiply-accumulates the step executes; dense fp32 (a "
        f"1024³ matmul) ran at {first['dense_fp32_macs_per_s'] / 1e9:.1f} GMAC/s. Geometric "
        f"mean of the ratio to "
        f"dense over the {means['systems_compared']} systems both have: "
        f"**{means['base']:.3f} before, {means['new_common']:.3f} now "
        f"({means['new_common'] / means['base']:.2f}x)**; {means['new']:.3f} over all "
        f"{len(rows)} systems. — means a system the base commit did not have."
    )
    body = "\n".join([sentence, "", *head, *(_row(info) for info in rows)])
    return readme_block.from_results("training-speed", __file__, RESULTS, body)


def main(argv: list[str] | None = None) -> int:
    return readme_block.main("training-speed", block, Path(__file__).name, argv)


if __name__ == "__main__":
    raise SystemExit(main())
