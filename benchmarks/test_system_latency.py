"""Latency per clip of every installed system, with its complexity under both rule sets.

One benchmark per installed system, third-party plugin systems included (the
``ascbench_system`` fixture of :mod:`ascbench.pytest_plugin` lists them). Each builds the
system as ``ascbench profile`` does -- untrained, compressor chain applied with random
calibration data -- under dcase2021 and dcase2022, puts parameters, non-zero parameters,
bytes, MACs and every limit's outcome into the benchmark's ``extra_info``, and times one
forward pass of the model compressed for the system's own challenge on one clip of that
challenge's length (10 s for dcase2021 systems, 1 s for dcase2022 ones; features in, logits
out: the frontend is not timed), on one torch thread.

Run (writes one JSON entry per system, a few minutes on 2 cores)::

    pytest benchmarks/test_system_latency.py --benchmark-only --benchmark-json latency.json

``--benchmark-only`` is needed: pyproject's ``addopts`` has ``--benchmark-skip``. Most of the
time goes to measuring complexity (tracing each model under both rule sets), not to timing.
"""

from __future__ import annotations

import pytest

#: One intra-op thread, as on a small device; it also keeps the numbers stable on a busy
#: machine, where two threads on two cores keep waiting for each other (the DCASE 2022
#: baseline took ~200 ms per 1-s clip with 2 threads under load, ~9 ms with 1).
THREADS = 1


# Modest rounds: a 10-s clip takes up to a few seconds on CPU for the largest systems.
# pytest-benchmark still runs as many rounds as fit in max_time for the fast ones.
@pytest.mark.benchmark(min_rounds=3, max_time=0.5)
def test_system_latency(benchmark, ascbench_profile, ascbench_system: str) -> None:
    result = ascbench_profile(benchmark, ascbench_system, threads=THREADS)
    errors = {name: m.error for name, m in result.rulesets.items() if m.status == "error"}
    assert not errors, f"{ascbench_system} could not be measured: {errors}"
    for m in result.rulesets.values():
        assert m.parameters > 0 and m.macs > 0 and len(m.checks) >= 1
