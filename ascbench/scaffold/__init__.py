"""A new plugin package from templates: what ``ascbench new-plugin NAME`` writes.

:func:`plugin_names` turns the user's NAME into the names of the package (``my-net`` ->
distribution ``ascbench-my-net``, import package ``ascbench_my_net``, plugin and system
``my_net``, model ``my_net_cnn``); :func:`render_plugin` fills the templates of
:mod:`ascbench.scaffold.templates`; :func:`write_plugin` writes them into a new or empty
directory, never over existing files.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from string import Template

from ascbench import __version__
from ascbench.atomic import atomic_write_text
from ascbench.errors import AscbenchError
from ascbench.hookspecs import ENTRY_POINT_GROUP
from ascbench.scaffold.templates import FILES

#: A plugin name after lower-casing: a letter, then letters and digits, single '-' or '_'
#: between them (so that it is a Python identifier after '-' -> '_' and a valid distribution
#: name after the 'ascbench-' prefix).
_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PREFIXES = ("ascbench-", "ascbench_")
#: Plugin names taken by ascbench itself.
RESERVED = frozenset({"ascbench"})


class ScaffoldError(AscbenchError):
    """A new plugin cannot be written as asked (bad name, existing directory)."""


@dataclass(frozen=True)
class PluginNames:
    """Every name of a new plugin, derived from one NAME."""

    name: str  # plugin (entry point) name and system name: my_net
    package: str  # import package: ascbench_my_net
    dist: str  # distribution and directory name: ascbench-my-net
    model: str  # model name: my_net_cnn

    @property
    def fields(self) -> dict[str, str]:
        return {
            "name": self.name,
            "package": self.package,
            "dist": self.dist,
            "model": self.model,
            "requirement": f"ascbench>={'.'.join(__version__.split('.')[:2])}",
        }


def plugin_names(raw: str) -> PluginNames:
    """The names of a plugin called ``raw`` (case-insensitive; an 'ascbench-' prefix is
    dropped). Raises :class:`ScaffoldError` for names that cannot become a package."""
    text = raw.strip().lower()
    for prefix in _PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :]
    if not _NAME.fullmatch(text):
        raise ScaffoldError(
            f"invalid plugin name {raw!r}: use letters, digits and single '-' or '_' between "
            "them, starting with a letter (e.g. 'my-net'); it must become a Python identifier "
            "(ascbench_my_net)"
        )
    if text in RESERVED:
        raise ScaffoldError(f"the plugin name {raw!r} is taken by ascbench itself; choose another")
    name = text.replace("-", "_")
    return PluginNames(
        name=name,
        package=f"ascbench_{name}",
        dist=f"ascbench-{name.replace('_', '-')}",
        model=f"{name}_cnn",
    )


def check_not_installed(names: PluginNames) -> None:
    """Refuse a name whose plugin or package is already installed: the two would conflict."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == names.name:
            dist = getattr(ep, "dist", None)
            owner = dist.name if dist else ep.value
            raise ScaffoldError(
                f"a plugin named '{names.name}' is already installed ({owner}); choose another "
                f"NAME, or `pip uninstall {owner}` first"
            )
    if importlib.util.find_spec(names.package) is not None:
        raise ScaffoldError(
            f"a Python package '{names.package}' is already installed; choose another NAME"
        )


def render_plugin(names: PluginNames) -> dict[str, str]:
    """Relative path -> text of every file of the new plugin package."""
    fields = names.fields
    return {
        Template(path).substitute(fields): Template(text).substitute(fields)
        for path, text in FILES.items()
    }


def target_directory(names: PluginNames, parent: str | Path) -> Path:
    """``parent/<dist>``, which must not exist, or be an empty directory."""
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError(f"{parent}: not a directory; give --dir an existing or new folder")
    target = parent / names.dist
    if target.is_dir() and any(target.iterdir()):
        raise ScaffoldError(
            f"{target} already exists and is not empty; nothing was written (choose another "
            "NAME or --dir, or move that folder away)"
        )
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} exists and is a file; choose another NAME or --dir")
    return target


def write_plugin(names: PluginNames, parent: str | Path = ".") -> tuple[Path, list[Path]]:
    """Write the plugin package into ``parent/<dist>``; returns it and the files written."""
    target = target_directory(names, parent)
    written = []
    for relative, text in render_plugin(names).items():
        written.append(atomic_write_text(target / relative, text))
    return target, written
