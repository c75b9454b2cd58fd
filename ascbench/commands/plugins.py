"""``ascbench plugins``: what every installed plugin registers, and which failed to load."""

from __future__ import annotations

import json

NAME = "plugins"
HELP = "list installed plugins and what each registers (and any that failed to load)"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args, ctx) -> int:
    from ascbench.plugins import KINDS

    registry = ctx.registry
    if args.json:
        data = {
            "plugins": [
                {
                    "name": p.name,
                    "origin": p.origin,
                    "module": p.module,
                    "distribution": p.distribution,
                    "version": p.version,
                    "registered": p.registered,
                    "errors": p.errors,
                }
                for p in registry.plugins
            ],
            "conflicts": registry.conflicts,
        }
        print(json.dumps(data, indent=2))
    else:
        for p in registry.plugins:
            dist = f" [{p.distribution} {p.version}]" if p.distribution else ""
            state = "ok" if p.ok else "FAILED"
            print(f"{p.name} ({p.origin}: {p.module}){dist} {state}")
            for kind in KINDS:
                names = p.registered.get(kind)
                if names:
                    print(f"  {kind}s: {', '.join(names)}")
            for error in p.errors:
                print(f"  error: {error}")
        for conflict in registry.conflicts:
            print(f"conflict: {conflict}")
    failed = any(not p.ok for p in registry.plugins) or registry.conflicts
    return 1 if failed else 0
