#!/usr/bin/env python
"""The README's cost of waveform augmentation, generated from the committed benchmark file.

``benchmarks/results/waveform-cost.json`` is the pytest-benchmark JSON of
``benchmarks/test_waveform_augmentation_cost.py`` (a CP-Mobile training step from cached
features and from augmented audio, interleaved in one run).

    python scripts/readme_waveform_cost.py --write     # rewrite README.md's block
    python scripts/readme_waveform_cost.py --check     # exit 1 if README.md differs
"""

from __future__ import annotations

from pathlib import Path

import readme_block

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "waveform-cost.json"
NAME = "waveform-cost"


def block() -> str:
    info, cpu, date = readme_block.benchmark_extra(RESULTS)
    return readme_block.from_results(
        NAME,
        __file__,
        RESULTS,
        f"A CP-Mobile training step on {info['batch']} one-second clips takes "
        f"{info['step_from_cache_s']:.2f} s from cached features and "
        f"{info['step_from_audio_s']:.2f} s from audio with device impulse responses, "
        f"waveform rolling and the frontend computed per batch (**{info['ratio']:.2f}x**, "
        f"interleaved in one run; augmentation and frontend alone "
        f"{info['augment_and_frontend_s']:.2f} s; {info['threads']} threads, {cpu}, "
        f"load average {info['loadavg']:.1f}, {date}).",
    )


if __name__ == "__main__":
    raise SystemExit(readme_block.main(NAME, block, "scripts/readme_waveform_cost.py"))
