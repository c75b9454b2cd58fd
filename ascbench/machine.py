"""What this machine lets a process use, for the parts that size their own parallelism."""

from __future__ import annotations

import os


def machine_cores() -> int:
    """The CPU cores this process may use (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - macOS, Windows
