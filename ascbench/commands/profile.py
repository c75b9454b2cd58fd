"""``ascbench profile``: parameters, bytes and MACs of every system under a rule set."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ascbench.profiling import SystemProfile

NAME = "profile"
HELP = "measure parameters, non-zero parameters, bytes and MACs of each system under a rule set"


def add_arguments(parser):
    parser.add_argument(
        "--rules",
        default="dcase2022",
        metavar="NAME|FILE",
        help="rule set name (dcase2021, dcase2022, ...) or a .toml/.yaml rule-set file "
        "(default: dcase2022)",
    )
    parser.add_argument(
        "--system", action="append", metavar="NAME", help="only this system (repeatable)"
    )
    parser.add_argument("--detail", action="store_true", help="add a per-layer breakdown")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="measure every system again instead of reading the profiles kept in the cache "
        "folder (kept per system definition, rule set, ascbench and plugin source, torch and "
        "fvcore)",
    )


def _print_table(profiles: list[SystemProfile], limit_names: list[str]) -> None:
    header = ["system", "input", "params", "non-zero", "bytes", "MACs", *limit_names, "status"]
    rows = []
    for p in profiles:
        c = p.complexity
        if c is None:
            rows.append([p.system, "-", "-", "-", "-", "-", *["-"] * len(limit_names), "error"])
            continue
        rows.append(
            [
                p.system,
                "x".join(str(s) for s in c.input_shape[1:]),
                f"{c.parameters:,}",
                f"{c.nonzero_parameters:,}",
                f"{c.bytes:,}",
                f"{c.macs:,}",  # exact: a limit is checked on the exact count
                *[check.status for check in c.checks],
                p.status,
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4, 5}
    for r in [header, *rows]:
        print(
            "  ".join(
                str(v).rjust(w) if i in right else str(v).ljust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )


def _print_detail(p: SystemProfile) -> None:
    c = p.complexity
    print(f"\n{p.system} ({p.plugin}) under {p.ruleset}: input {c.input_shape}, {c.counter}")
    header = ["layer", "type", "params", "non-zero", "bytes", "MACs", "functional MACs"]
    rows = [
        [
            layer.name,
            layer.type,
            f"{layer.parameters:,}",
            f"{layer.nonzero_parameters:,}",
            f"{layer.bytes:,}",
            f"{layer.macs:,}",
            f"{layer.functional_macs:,}" if layer.functional_macs else "",
        ]
        for layer in c.layers
    ]
    rows.append(
        [
            "total",
            "",
            f"{c.parameters:,}",
            f"{c.nonzero_parameters:,}",
            f"{c.bytes:,}",
            f"{c.macs_official:,}",
            f"{c.functional_macs:,}" if c.functional_macs else "",
        ]
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print(
            "  "
            + "  ".join(
                v.rjust(w) if i >= 2 else v.ljust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    if len(p.stages) > 1:
        print("  compressor chain: " + "; ".join(
            f"{st.name}: {st.parameters:,} params, {st.bytes:,} B, {st.macs:,} MACs ({st.status})"
            for st in p.stages
        ))  # fmt: skip
    print(
        f"  fvcore cross-check: {c.fvcore_macs:,} MACs "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(c.fvcore_by_operator.items()))})"
    )


def run(args, ctx) -> int:
    from ascbench.paths import cache_dir
    from ascbench.profile_cache import ProfileCache
    from ascbench.profiling import profile_system
    from ascbench.progress import bar

    registry = ctx.registry
    ruleset, systems = ctx.selection()
    cache = ProfileCache(cache_dir() / "profiles", registry, ruleset)
    progress = bar(systems, desc="profiling", unit="system", leave=False, disable=None)
    profiles, kept = [], 0
    for system in progress:  # a bar on a terminal (a third of a second a system), nothing elsewhere
        progress.set_postfix_str(system.name)
        profile = None if args.no_cache else cache.get(system)
        kept += profile is not None
        if profile is None:
            profile = profile_system(registry, system, ruleset)
            cache.put(system, profile)
        profiles.append(profile)
    limit_names = [f"{lim.quantity}<={lim.maximum:,}" for lim in ruleset.limits]
    print(
        f"rule set {ruleset.name}: {ruleset.title}; one {ruleset.clip_seconds:g}-s clip, "
        f"batch {ruleset.macs.batch_size}, MACs by {ruleset.macs.name}"
    )
    _print_table(profiles, limit_names)
    if kept:
        print(
            f"{kept} of {len(profiles)} from the profile cache (same system, rule set, code, "
            "torch and fvcore; --no-cache measures them again)"
        )
    for p in profiles:
        if p.error:
            print(f"error: {p.system}: {p.error}")
        elif p.complexity.flags:
            for flag in p.complexity.flags:
                print(f"note: {p.system}: {flag}")
    if args.detail:
        for p in profiles:
            if p.complexity is not None:
                _print_detail(p)
    if args.json:
        from ascbench import __version__
        from ascbench.atomic import atomic_write_text
        from ascbench.profiling import ProfileResult

        result = ProfileResult(ascbench_version=__version__, ruleset=ruleset, systems=profiles)
        atomic_write_text(args.json, result.model_dump_json(indent=2))
        print(f"wrote {args.json}")
    return 1 if any(p.status == "error" for p in profiles) else 0
