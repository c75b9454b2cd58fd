"""Profiles kept on disk, keyed by everything that determines them.

``ascbench profile`` builds, compresses and traces every system (a third of a second each); a
profile depends only on the system's definition, the rule set, the source code of ascbench and
of every loaded plugin package, and the versions of torch and fvcore (which traces the model
and counts the cross-check). :class:`ProfileCache` stores each finished profile under the
SHA-256 of those, so a second ``ascbench profile`` reads what did not change and measures only
what did. Code a plugin imports from another library (other than torch and fvcore) is not part
of the key: after changing such a library, ``--no-cache`` measures
everything again.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ascbench.atomic import atomic_write_text
from ascbench.plugins import Registry, source_version
from ascbench.rules import RuleSet
from ascbench.systems import System

if TYPE_CHECKING:
    from ascbench.profiling import SystemProfile

#: Bump when the way profiles are computed changes without a source change ascbench can see.
CACHE_FORMAT = 1
#: Libraries whose version is part of the key: they build, trace and count every profile.
COUNTING_LIBRARIES = ("torch", "fvcore")


def code_digest(registry: Registry) -> str | None:
    """SHA-256 over the source of ascbench and of every loaded plugin's top-level package, and
    the versions of torch and fvcore; None when a package's source cannot be read (nothing is
    cached then)."""
    from importlib import metadata

    try:  # torch builds and runs the models; fvcore traces them and counts its cross-check
        libraries = "; ".join(f"{n} {metadata.version(n)}" for n in COUNTING_LIBRARIES)
    except metadata.PackageNotFoundError:
        return None
    digest = hashlib.sha256(f"format {CACHE_FORMAT}; {libraries}\n".encode())
    packages = {"ascbench"} | {
        info.module.split(":")[0].split(".")[0] for info in registry.plugins if info.module
    }
    for name in sorted(packages):
        module = sys.modules.get(name)
        try:
            module = module or importlib.import_module(name)
        except Exception:  # a plugin that failed to import registered nothing
            continue
        version = source_version(module)
        if not version:
            return None
        digest.update(f"{name} {version}\n".encode())
    return digest.hexdigest()


class ProfileCache:
    """Finished profiles in ``folder`` (``<cache>/profiles``), one JSON file per key."""

    def __init__(self, folder: str | Path, registry: Registry, ruleset: RuleSet):
        self.folder = Path(folder)
        self.code = code_digest(registry)
        self.ruleset = ruleset.model_dump_json()

    def key(self, system: System) -> str | None:
        if self.code is None:
            return None
        text = "\n".join([self.code, self.ruleset, system.model_dump_json()])
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, system: System) -> Path | None:
        key = self.key(system)
        return self.folder / f"{system.name}-{key}.json" if key else None

    def get(self, system: System) -> SystemProfile | None:
        """The stored profile of ``system``, or None (not stored, unreadable or stale format)."""
        from ascbench.profiling import SystemProfile

        path = self._path(system)
        if path is None or not path.is_file():
            return None
        try:
            return SystemProfile.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # a damaged file is measured again and replaced
            return None

    def put(self, system: System, profile: SystemProfile) -> None:
        """Store a measured profile; an error is not stored (it may be passing), nor is
        anything when the folder cannot be written (the cache is only a shortcut)."""
        path = self._path(system)
        if path is None or profile.status == "error":
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, profile.model_dump_json())
        except OSError:
            pass
