"""Load one of the repository's scripts (``scripts/``, ``benchmarks/``) as a module, for tests
of scripts that are run, not imported."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str, name: str) -> ModuleType:
    """The script at ``path`` (relative to the repository) as module ``name``; its folder is
    on ``sys.path`` while it loads, for scripts that import a module beside them."""
    script = ROOT / path
    spec = importlib.util.spec_from_file_location(name, script)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(script.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    return module
