"""What content fingerprints cost: the default dataset's fingerprint with every file hashed
(a first use) and with the digest cache warm (every later use: a stat per file), in one run.

    pytest benchmarks/test_fingerprint_cost.py --benchmark-only \
        --benchmark-json=benchmarks/results/fingerprint-cost.json
    python scripts/readme_fingerprint_cost.py --write
"""

from __future__ import annotations

import time

from ascbench.data import default_dataset


def test_fingerprint_of_the_default_dataset_cold_and_warm(benchmark, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # digest cache only; data stays
    dataset = default_dataset("tau2022")
    names = sorted({c.filename for clips in dataset.splits.values() for c in clips})
    size = sum((dataset.root / n).stat().st_size for n in names)
    from ascbench.data import digests

    cache_root = tmp_path / "digests"
    start = time.perf_counter()
    digests.file_digests(dataset.root, names, cache_root=cache_root)
    cold = time.perf_counter() - start
    warm_runs = []
    for _ in range(5):
        start = time.perf_counter()
        digests.file_digests(dataset.root, names, cache_root=cache_root)
        warm_runs.append(time.perf_counter() - start)
    warm = sorted(warm_runs)[len(warm_runs) // 2]
    benchmark.extra_info.update({
        "files": len(names), "bytes": size, "cold_s": cold, "warm_s": warm,
        "hash_mb_per_s": size / cold / 1e6, "stat_us_per_file": warm / len(names) * 1e6,
    })  # fmt: skip
    benchmark.pedantic(digests.file_digests, args=(dataset.root, names),
                       kwargs={"cache_root": cache_root}, rounds=3, iterations=1)  # fmt: skip
