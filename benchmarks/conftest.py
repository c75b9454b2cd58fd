"""Benchmark reporting for test_frontend_speed.py: clips per second, speed ratios against
librosa, feature-cache fill and read times; for test_system_latency.py (any benchmark made
with ascbench's ``ascbench_profile`` fixture): latency per clip beside each rule set's
parameters, bytes, MACs and status. Only benchmarks that set these extra_info keys."""

from __future__ import annotations


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
