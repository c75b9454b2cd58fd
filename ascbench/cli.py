"""The ``ascbench`` command line.

Each subcommand is a module in :mod:`ascbench.commands` with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args, ctx) -> int``. Errors that a user can act on
(:class:`ascbench.errors.AscbenchError`) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from functools import cached_property

from ascbench.errors import AscbenchError

COMMANDS = (
    "plugins", "rules", "profile", "run", "data", "leaderboard", "submit", "export", "new_plugin",
)  # fmt: skip


class Context:
    """What every subcommand gets: the parsed arguments and the plugin registry, built lazily."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    @cached_property
    def registry(self):
        from ascbench.plugins import load_registry

        registry = load_registry(self.args.plugin or [])
        for info in registry.plugins:
            for error in info.errors:
                print(f"ascbench: warning: plugin '{info.name}': {error}", file=sys.stderr)
        return registry

    def selection(self):
        """``(rule set, systems)`` of ``--rules`` and ``--system`` (all systems if none named)."""
        registry = self.registry
        registry.raise_on_conflicts()
        ruleset = registry.ruleset(self.args.rules)
        systems = registry.systems(self.args.system)
        if not systems:
            raise AscbenchError(
                "no systems are registered; install a plugin package (see README) or use --plugin"
            )
        return ruleset, systems


def build_parser() -> argparse.ArgumentParser:
    from ascbench import __version__

    parser = argparse.ArgumentParser(
        prog="ascbench",
        description="Benchmark low-complexity acoustic scene classification systems under the "
        "DCASE rules: plugins, complexity profiling, training, evaluation, leaderboard.",
    )
    parser.add_argument("--version", action="version", version=f"ascbench {__version__}")
    parser.add_argument(
        "--plugin",
        action="append",
        metavar="MODULE",
        help="import MODULE as a plugin without packaging it (repeatable; "
        "also ASCBENCH_PLUGINS=mod1,mod2)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"ascbench.commands.{name}")
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args, Context(args)) or 0)
    except AscbenchError as exc:
        print(f"ascbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ascbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
