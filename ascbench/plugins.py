"""Finding plugins and collecting what they register.

:func:`load_registry` builds the :class:`Registry` once per process: it registers the built-in
plugin, every entry point in the ``ascbench`` group, and the modules named with ``--plugin`` or
in ``ASCBENCH_PLUGINS``, then calls each ``register_*`` hook of each plugin separately, so that
one broken plugin is reported and the others keep working.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pluggy

from ascbench import components, hookspecs
from ascbench.components import RegistryEntry
from ascbench.errors import PluginError, RuleSetError, UnknownNameError, one_line
from ascbench.rules import RuleSet, load_ruleset_file
from ascbench.systems import System

ENV_PLUGINS = "ASCBENCH_PLUGINS"

#: hook name -> (registry kind, the class its entries must be)
HOOKS: dict[str, tuple[str, type]] = {
    "register_rulesets": ("ruleset", RuleSet),
    "register_frontends": ("frontend", components.FrontendEntry),
    "register_models": ("model", components.ModelEntry),
    "register_compressors": ("compressor", components.CompressorEntry),
    "register_evaluators": ("evaluator", components.EvaluatorEntry),
    "register_augmentations": ("augmentation", components.AugmentationEntry),
    "register_lr_schedules": ("lr_schedule", components.LrScheduleEntry),
    "register_systems": ("system", System),
}
KINDS = tuple(kind for kind, _ in HOOKS.values())


@dataclass
class PluginInfo:
    """One plugin as the registry saw it."""

    name: str
    origin: str  # "built-in", "entry point", "--plugin" or ASCBENCH_PLUGINS
    module: str = ""
    distribution: str = ""
    version: str = ""
    registered: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class Registry:
    """Everything the installed plugins registered, by kind and name."""

    def __init__(self) -> None:
        self.plugins: list[PluginInfo] = []
        self.entries: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.conflicts: list[str] = []

    # -- lookups ---------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Any:
        table = self.entries[kind]
        if name in table:
            return table[name]
        close = difflib.get_close_matches(name, table, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(sorted(table)) or "none"
        raise UnknownNameError(
            f"unknown {kind} '{name}'{hint} (registered: {known}); "
            "`ascbench plugins` lists what each installed plugin registers"
        )

    def ruleset(self, name_or_path: str) -> RuleSet:
        """A registered rule set by name, or one read from a TOML/YAML/JSON file path."""
        if name_or_path in self.entries["ruleset"]:
            return self.entries["ruleset"][name_or_path]
        path = Path(name_or_path)
        if path.suffix.lower() in {".toml", ".yaml", ".yml", ".json"} or path.exists():
            if not path.is_file():
                raise RuleSetError(f"{path}: rule-set file not found")
            return load_ruleset_file(path)
        try:
            return self.get("ruleset", name_or_path)
        except UnknownNameError as exc:
            raise RuleSetError(f"{exc}; or give the path of a .toml/.yaml rule-set file") from None

    def system(self, name: str) -> System:
        return self.get("system", name)

    def systems(self, names: list[str] | None = None) -> list[System]:
        if names:
            return [self.system(n) for n in names]
        return [self.entries["system"][n] for n in self.names("system")]

    def raise_on_conflicts(self) -> None:
        if self.conflicts:
            more = f" (+{len(self.conflicts) - 1} more)" if len(self.conflicts) > 1 else ""
            raise PluginError(self.conflicts[0] + more)

    # -- building ----------------------------------------------------------------------------
    def _add(self, info: PluginInfo, kind: str, entry: Any) -> None:
        name = entry.name
        table = self.entries[kind]
        if name in table:
            other = table[name].plugin
            self.conflicts.append(
                f"{kind} '{name}' is registered by both plugin '{other}' and plugin '{info.name}'; "
                f"uninstall one of them or rename the {kind}"
            )
            return
        if isinstance(entry, RegistryEntry):
            entry = _with_plugin(entry, info.name)
        else:  # pydantic models (RuleSet, System) are frozen: copy with provenance
            field_name = "plugin" if isinstance(entry, System) else "source"
            if not getattr(entry, field_name):
                entry = entry.model_copy(update={field_name: info.name})
        table[name] = entry
        info.registered.setdefault(kind, []).append(name)


def _with_plugin(entry: RegistryEntry, plugin: str) -> RegistryEntry:
    import dataclasses

    return dataclasses.replace(entry, plugin=plugin)


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP), key=lambda e: e.name)


def _plugin_modules_from_env() -> list[str]:
    raw = os.environ.get(ENV_PLUGINS, "")
    return [m.strip() for m in raw.replace(";", ",").split(",") if m.strip()]


def _import_plugin_module(name: str) -> Any:
    """Import a ``--plugin``/``ASCBENCH_PLUGINS`` module; a module in the current directory is
    found too (the ``ascbench`` console script, unlike ``python -m``, does not search it)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        cwd = os.getcwd()
        top = name.split(".")[0]
        if exc.name != top or cwd in sys.path:
            raise
        sys.path.append(cwd)
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as again:
            sys.path.remove(cwd)
            if again.name == top:
                raise ModuleNotFoundError(
                    f"no module named {top!r} on the import path or in {cwd}", name=top
                ) from None
            raise


def load_registry(
    extra_modules: list[str] | tuple[str, ...] = (),
    *,
    entry_points: bool = True,
    environment: bool = True,
    builtin: bool = True,
) -> Registry:
    """Find every plugin, call its hooks, and return what they registered.

    ``extra_modules`` are importable module paths (``--plugin``); modules in the
    ``ASCBENCH_PLUGINS`` environment variable are added when ``environment`` is true.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    seen: set[str] = set()
    for info, source in _candidates(extra_modules, entry_points, environment, builtin):
        registry.plugins.append(info)
        if info.name in seen:
            info.errors.append(f"a plugin named '{info.name}' is already loaded; skipped")
            continue
        seen.add(info.name)
        _register(pm, registry, info, source)
    _collect_entries(pm, registry)
    return registry


def _candidates(
    extra_modules: Sequence[str], entry_points: bool, environment: bool, builtin: bool
) -> list[tuple[PluginInfo, Any]]:
    """``(info, source)`` of every plugin to load, in order: built-in, entry points,
    ``--plugin`` modules, ``ASCBENCH_PLUGINS`` modules (a source is an entry point or a module
    path)."""
    candidates: list[tuple[PluginInfo, Any]] = []
    if builtin:
        candidates.append(
            (PluginInfo("ascbench", "built-in", module="ascbench.builtin"), "ascbench.builtin")
        )
    for ep in _entry_points() if entry_points else ():
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            ep.name,
            "entry point",
            module=ep.value,
            distribution=dist.name if dist else "",
            version=dist.version if dist else "",
        )
        candidates.append((info, ep))
    modules = list(extra_modules) + (_plugin_modules_from_env() if environment else [])
    for module in dict.fromkeys(modules):  # keep order, drop repeats
        origin = "--plugin" if module in extra_modules else ENV_PLUGINS
        candidates.append((PluginInfo(module, origin, module=module), module))
    return candidates


def source_version(module: Any) -> str:
    """The version of a plugin module loaded by path (``--plugin``, ``ASCBENCH_PLUGINS``),
    which no distribution versions: ``source-sha256:<16 hex>`` of its source file (of every
    ``.py`` file of a package, by relative path), so an entry records which code made it.
    Empty when there is no source file to read."""
    import hashlib

    path = getattr(module, "__file__", None)
    if not path:
        return ""
    path = Path(path)
    files = sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    digest = hashlib.sha256()
    try:
        for file in files:
            digest.update(file.relative_to(path.parent).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    except OSError:
        return ""
    return f"source-sha256:{digest.hexdigest()[:16]}"


def _register(pm: pluggy.PluginManager, registry: Registry, info: PluginInfo, source) -> None:
    """Import one plugin and register it with ``pm``; what goes wrong goes to ``info.errors``."""
    try:
        plugin = (
            source.load() if isinstance(source, metadata.EntryPoint)
            else _import_plugin_module(source)
        )  # fmt: skip
    except Exception as exc:  # a broken plugin must not take the others down
        info.errors.append(f"failed to import {info.module}: {one_line(exc)}")
        return
    if pm.is_registered(plugin):  # `--plugin m` for a module an entry point loaded
        registry.plugins.remove(info)
        return
    if not info.version and info.origin in ("--plugin", ENV_PLUGINS):
        info.version = source_version(plugin)
    if isinstance(plugin, type):
        info.errors.append(
            f"{info.module} is a class; register a module or an instance with @hookimpl "
            "functions"
        )
        return
    try:
        pm.register(plugin, name=info.name)
        pm.check_pending()
    except Exception as exc:  # pluggy.PluginValidationError and friends
        pm.unregister(name=info.name)
        info.errors.append(_hook_error(exc))


def _collect_entries(pm: pluggy.PluginManager, registry: Registry) -> None:
    """Call every ``register_*`` hook of every registered plugin and add what it returns.

    A plugin is registered whole or not at all: when one of its hooks raises or returns
    something that is not a list of the expected objects, none of its models, systems, rule
    sets or other components are added (its other hooks' entries would name components that
    are not there), and its errors say so."""
    infos = {info.name: info for info in registry.plugins}
    errors_before = {name: len(info.errors) for name, info in infos.items()}
    collected: list[tuple[PluginInfo, str, Any]] = []
    for hook_name, (kind, cls) in HOOKS.items():
        # get_hookimpls() lists implementations in registration order.
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            info = infos[impl.plugin_name]
            for entry in _hook_result(info, hook_name, impl.function):
                if isinstance(entry, cls):
                    collected.append((info, kind, entry))
                else:
                    info.errors.append(
                        f"{hook_name}() ({_defined_at(impl.function)}) returned a "
                        f"{type(entry).__name__}; expected ascbench.{cls.__name__}"
                    )
    broken = {n for n, info in infos.items() if len(info.errors) > errors_before[n]}
    for name in broken:
        infos[name].errors.append("nothing of this plugin was registered")
    for info, kind, entry in collected:
        if info.name not in broken:
            registry._add(info, kind, entry)


def _hook_result(info: PluginInfo, hook_name: str, function) -> list | tuple:
    """What one hook implementation returns (a list), or nothing if it raised or returned
    something else (said in ``info.errors``)."""
    try:
        result = function()
    except Exception as exc:
        info.errors.append(f"{hook_name}() raised {one_line(exc)}")
        return []
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        info.errors.append(
            f"{hook_name}() ({_defined_at(function)}) must return a list, got "
            f"{type(result).__name__}"
        )
        return []
    return result


def _defined_at(function) -> str:
    """``FILE:LINE`` where a hook implementation is defined, for errors about what it returned
    (nothing raised, so there is no traceback to name it)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return getattr(function, "__qualname__", repr(function))
    return f"{Path(code.co_filename).name}:{code.co_firstlineno}"


def _hook_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "unknown hook" in text:
        names = [n for n in HOOKS if n.split("_")[-1][:4] in text]
        hint = f"; the hooks are {', '.join(HOOKS)}" if not names else f"; did you mean {names[0]}?"
        return text + hint
    return text
