"""Where ascbench keeps generated data and caches."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$ASCBENCH_CACHE``, else ``$XDG_CACHE_HOME/ascbench``, else ``~/.cache/ascbench``."""
    if os.environ.get("ASCBENCH_CACHE"):
        return Path(os.environ["ASCBENCH_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ascbench"
