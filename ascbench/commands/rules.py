"""``ascbench rules``: list, show and validate rule sets."""

from __future__ import annotations

import json

NAME = "rules"
HELP = "list rule sets, show one (name or file), or print the rule-set file schema"


def add_arguments(parser):
    sub = parser.add_subparsers(dest="rules_command", metavar="ACTION")
    sub.add_parser("list", help="list registered rule sets (default)")
    show = sub.add_parser("show", help="show one rule set (a name or a .toml/.yaml file)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print as JSON")
    sub.add_parser("schema", help="print the JSON schema a rule-set file must follow")


def _fmt_limit(limit) -> str:
    op = "<=" if limit.inclusive else "<"
    amb = f" (ambiguous up to {limit.ambiguous_up_to:,})" if limit.ambiguous_up_to else ""
    return f"{limit.quantity} {op} {limit.maximum:,}{amb}"


def run(args, ctx) -> int:
    action = args.rules_command or "list"
    if action == "schema":
        from ascbench.rules import ruleset_json_schema

        print(json.dumps(ruleset_json_schema(), indent=2))
        return 0
    registry = ctx.registry
    if action == "list":
        for name in registry.names("ruleset"):
            rs = registry.ruleset(name)
            limits = "; ".join(_fmt_limit(lim) for lim in rs.limits)
            print(f"{name:<12} {rs.clip_seconds:g}-s clips  {limits}  ({rs.title})")
        return 0
    rs = registry.ruleset(args.name)
    if args.json:
        print(rs.model_dump_json(indent=2))
        return 0
    print(f"{rs.name}: {rs.title}")
    print(f"  dataset: {rs.dataset}; clip: {rs.clip_seconds:g} s; KB = {rs.kilobyte} B")
    print(f"  primary metric: {rs.primary_metric}")
    for lim in rs.limits:
        print(f"  limit: {_fmt_limit(lim)}  -- {lim.text}")
    p = rs.parameters
    print(
        f"  parameters: zeros {'count' if p.count_zeros else 'excluded'}; buffers counted: "
        f"{', '.join(p.counted_buffers) or 'none'}; bytes: "
        f"{p.storage_dtype + ' fixed' if p.storage_dtype else 'actual dtype'}"
    )
    m = rs.macs
    print(
        f"  MACs ({m.name}): bias {'counted' if m.bias else 'not counted'}; batch norm "
        f"{m.batch_norm}; linear {m.linear}; pooling {m.pooling}; batch {m.batch_size}"
    )
    for note in rs.notes:
        print(f"  note: {note}")
    return 0
