"""``ascbench new-plugin NAME``: write a pip-installable plugin package to start from."""

from __future__ import annotations

NAME = "new-plugin"
HELP = (
    "write a new plugin package ascbench-NAME/ (pyproject with the entry point, hooks, "
    "a small model, a system, a test) to edit and pip install"
)


def add_arguments(parser):
    parser.add_argument(
        "name", metavar="NAME",
        help="plugin name: letters, digits, '-' or '_' (e.g. my-net -> package ascbench_my_net, "
        "system my_net)",
    )  # fmt: skip
    parser.add_argument(
        "--dir", default=".", metavar="DIR",
        help="where to create the ascbench-NAME folder (default: the current directory)",
    )  # fmt: skip


def run(args, ctx) -> int:
    from ascbench.scaffold import check_not_installed, plugin_names, write_plugin

    names = plugin_names(args.name)
    check_not_installed(names)
    target, written = write_plugin(names, args.dir)
    # pip reads a bare "ascbench-x" as a package name: show a relative path as ./ascbench-x
    shown = target if target.is_absolute() or len(target.parts) > 1 else f"./{target}"
    print(
        f"created {shown}: plugin '{names.name}' (package {names.package}) with model "
        f"'{names.model}' and system '{names.name}'"
    )
    for path in written:
        print(f"  {path.relative_to(target)}")
    print(
        "next:\n"
        f"  pip install -e {shown}\n"
        f"  ascbench plugins\n"
        f"  ascbench profile --system {names.name}\n"
        f"  ascbench run --system {names.name} --budget 1\n"
        f"  cd {shown} && python -m pytest\n"
        "guide: docs/writing-a-plugin.md in the ascbench repository"
    )
    return 0
