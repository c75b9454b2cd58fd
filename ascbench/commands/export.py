"""``ascbench export dcase2025``: a finished run as the DCASE 2025 inference package."""

from __future__ import annotations

NAME = "export"
HELP = (
    "write a finished run's system as a DCASE 2025 inference package (load_model, load_inputs, "
    "get_model_for_device, predict) to pip install and submit"
)


def add_arguments(parser):
    parser.add_argument(
        "format", choices=["dcase2025"], help="the submission interface (dcase2025: the "
        "organisers' inference-package template)",
    )  # fmt: skip
    parser.add_argument("--system", required=True, metavar="NAME", help="the system to export")
    parser.add_argument(
        "--rules", default="dcase2025", metavar="NAME",
        help="the rule set the run was made under (default: dcase2025)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="which seed's run (default: 0)")
    parser.add_argument(
        "--results", default="results", metavar="DIR", help="the run's results (default: results)"
    )
    parser.add_argument(
        "--label", required=True, metavar="LABEL",
        help="the submission label, e.g. Lastname_Institution_task1 (the package name)",
    )  # fmt: skip
    parser.add_argument(
        "--index", type=int, default=1, help="submission index 1-4: module LABEL_INDEX"
    )
    parser.add_argument(
        "--out", default=".", metavar="DIR",
        help="folder that gets pyproject.toml and the package LABEL/ (default: here)",
    )  # fmt: skip


def run(args, ctx) -> int:
    from ascbench.export.dcase2025 import export_package

    registry = ctx.registry
    registry.raise_on_conflicts()
    done = export_package(
        args.results, args.rules, args.system, args.seed, args.label, args.index, args.out,
        registry,
    )  # fmt: skip
    c = done.complexity
    print(
        f"wrote {done.package}: module {done.module} (system '{args.system}', seed {args.seed}); "
        f"largest device model: {c['max_MACs']:,} MACs, {c['max_Params']:,} parameter bytes"
    )
    for warning in done.warnings:
        print(f"warning: {warning}")
    print(
        f"next:\n  pip install {done.package}\n"
        f"  python -c 'import {done.module} as m; print(m.load_model())'"
    )
    return 0
