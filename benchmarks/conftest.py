"""Benchmark reporting for test_frontend_speed.py: clips per second, speed ratios against
librosa, feature-cache fill and read times; for test_system_latency.py (any benchmark made
with ascbench's ``ascbench_profile`` fixture): latency per clip beside each rule set's
parameters, bytes, MACs and status; for test_training_speed.py: training-step time, MAC/s and
ratio to dense fp32 matmul per system, before and after, with their geometric means. Only
benchmarks that set these extra_info keys."""

from __future__ import annotations

import math


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) or [] if b.stats is not None]
    groups: dict[str, list] = {}
    for b in benches:
        if "speed_clips" in b.extra_info:
            groups.setdefault(b.group or "", []).append(b)
    for group, items in groups.items():
        rate = {b.name: b.extra_info["speed_clips"] / b.stats.median for b in items}
        base = rate.get("test_librosa")
        terminalreporter.write_sep("-", f"throughput: {group} (median round)")
        for name, r in sorted(rate.items(), key=lambda kv: kv[1]):
            ratio = f"  {r / base:6.1f}x librosa" if base else ""
            terminalreporter.write_line(f"{name:45s} {r:9.1f} clips/s{ratio}")
    pairs = [b for b in benches if "speed_ratio_median" in b.extra_info]
    if pairs:
        terminalreporter.write_sep("-", "interleaved librosa/ascbench rounds (median)")
        for b in pairs:
            info = b.extra_info
            terminalreporter.write_line(
                f"ascbench {info['precision']}: {info['ascbench_clips_per_s']:.1f} clips/s, "
                f"librosa {info['librosa_clips_per_s']:.1f} clips/s, ratio "
                f"{info['speed_ratio_median']:.1f}x ({info['torch_threads']} torch threads)"
            )
    _latency_summary(terminalreporter, [b for b in benches if "rulesets" in b.extra_info])
    _training_summary(terminalreporter, benches)
    for b in benches:
        if "cache_fill_seconds" in b.extra_info:
            terminalreporter.write_sep("-", b.group)
            terminalreporter.write_line(
                f"first run (fill): {b.extra_info['cache_fill_seconds']:.2f} s "
                f"({b.extra_info['cache_fill_clips_per_s']:.0f} clips/s); second run (read): "
                f"{b.stats.median * 1e3:.1f} ms"
            )


def _latency_summary(terminalreporter, benches: list) -> None:
    if not benches:
        return
    terminalreporter.write_sep("-", "ascbench: latency per clip (median round) and complexity")
    for b in sorted(benches, key=lambda b: b.extra_info["system"]):
        info = b.extra_info
        per_clip = b.stats.median / info["latency"]["clips_per_call"]
        measured = "; ".join(
            f"{name}: error" if m["status"] == "error" else
            f"{name}: {m['parameters']:,} params, {m['bytes']:,} B, {m['macs'] / 1e6:,.1f} M MACs "
            f"({m['status']})"
            for name, m in sorted(info["rulesets"].items())
        )  # fmt: skip
        terminalreporter.write_line(
            f"{info['system']:30s} {per_clip * 1e3:9.2f} ms ({info['latency']['ruleset']})  "
            + measured
        )


def _training_benches(benches: list) -> list:
    return sorted(
        (b for b in benches if "training_macs_per_step" in b.extra_info),
        key=lambda b: b.extra_info["system"],
    )


def training_geomeans(benches: list) -> dict:
    """Geometric means over systems of the ratio to dense fp32 and of the speed-up.

    ``new`` is over every system; ``base``, ``new_common`` and ``speedup`` over the systems
    the base commit also has (systems added since have no "before"), so ``new_common / base``
    compares the same systems.
    """

    def geomean(values: list[float]) -> float:
        return math.exp(sum(math.log(v) for v in values) / len(values))

    out: dict = {}
    both = [b for b in benches if "base" in b.extra_info]
    if benches:
        out["new"] = geomean([b.extra_info["new"]["ratio_to_dense"] for b in benches])
    if both:
        out["base"] = geomean([b.extra_info["base"]["ratio_to_dense"] for b in both])
        out["new_common"] = geomean([b.extra_info["new"]["ratio_to_dense"] for b in both])
        out["speedup"] = geomean([b.extra_info["speedup"] for b in both])
        out["systems_compared"] = len(both)
    return out


def pytest_benchmark_update_json(config, benchmarks, output_json) -> None:  # noqa: ARG001
    benches = _training_benches(benchmarks)
    if benches:
        output_json["training_speed"] = {
            "geomean_ratio_to_dense": training_geomeans(benches),
            "dense_fp32_macs_per_s": benches[0].extra_info["dense_fp32_macs_per_s"],
            "base_commit": benches[0].extra_info.get("base_commit"),
        }


def _training_summary(terminalreporter, benches: list) -> None:
    benches = _training_benches(benches)
    if not benches:
        return
    first = benches[0].extra_info
    base = first.get("base_commit")
    terminalreporter.write_sep(
        "-",
        f"training step (CPU time, 1 thread): dense fp32 {first['dense_fp32_macs_per_s'] / 1e9:.1f}"
        f" GMAC/s ({first['dense_fp32_wall_macs_per_s'] / 1e9:.1f} by wall time)",
    )
    head = f"{'system':30s} {'batch':>5s} {'GMAC/step':>9s}"
    for label in ("base", "new") if base else ("new",):
        head += f" | {label + ' ms':>9s} {'wall ms':>8s} {'GMAC/s':>7s} {'ratio':>6s}"
    terminalreporter.write_line(head + ("  speed-up" if base else ""))
    for b in benches:
        info = b.extra_info
        gmacs = info["training_macs_per_step"] / 1e9
        line = f"{info['system']:30s} {info['batch']:5d} {gmacs:9.2f}"
        for label in ("base", "new") if base else ("new",):
            m = info.get(label)
            if m is None:  # a system the base commit does not have
                line += f" | {'-':>9s} {'-':>8s} {'-':>7s} {'-':>6s}"
                continue
            line += (
                f" | {m['step_seconds'] * 1e3:9.1f} {m['step_wall_seconds'] * 1e3:8.1f} "
                f"{m['macs_per_s'] / 1e9:7.2f} {m['ratio_to_dense']:6.3f}"
            )
        if "speedup" in info:
            line += f"  {info['speedup']:7.2f}x"
        terminalreporter.write_line(line)
    means = training_geomeans(benches)
    parts = [f"new {means['new']:.3f} ({len(benches)} systems)"]
    if "base" in means:
        parts += [
            f"on the {means['systems_compared']} systems of both: base {means['base']:.3f}, "
            f"new {means['new_common']:.3f}, new/base {means['new_common'] / means['base']:.2f}x",
            f"geomean step speed-up {means['speedup']:.2f}x",
        ]
    if base:
        parts.append(f"base = {base}")
    terminalreporter.write_line("geometric-mean ratio to dense fp32: " + ", ".join(parts))
    shares = [b for b in benches if "time_shares" in b.extra_info["new"]]
    if shares:
        names = list(shares[0].extra_info["new"]["time_shares"])
        terminalreporter.write_sep("-", "where the new step's CPU time goes (profiled run)")
        terminalreporter.write_line(f"{'system':30s} " + " ".join(f"{n:>13s}" for n in names))
        for b in shares:
            row = b.extra_info["new"]["time_shares"]
            cells = " ".join(f"{row[n]:13.0%}" for n in names)
            terminalreporter.write_line(f"{b.extra_info['system']:30s} {cells}")
