"""Atomic file writing and JSON reading with one-line errors.

Every file the leaderboard and submission code writes goes through :func:`atomic_write_bytes`:
the content is written to a temporary file in the same directory, flushed to disk, and then
moved over the target with :func:`os.replace`. A crash at any point leaves either the old
file or the new one, never a half-written file. Leftover temporaries are hidden files ending
in :data:`TEMP_SUFFIX`, which readers skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ascbench.atomic import (  # noqa: F401  (re-exported for the leaderboard modules)
    TEMP_SUFFIX,
    OutputError,
    atomic_write_bytes,
    atomic_write_text,
    is_temp_file,
)
from ascbench.errors import AscbenchError


def read_text(path: str | Path, error: type[AscbenchError], what: str = "file") -> str:
    """The UTF-8 text of ``path``, or ``error`` with a one-line message naming the file: ``what``
    (e.g. 'predictions file') not found, or why it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{path}: {what} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise error(f"{path}: cannot read ({reason})") from exc


def read_json(path: str | Path, error: type[AscbenchError]) -> Any:
    """Parse a JSON file, raising ``error`` with a one-line message naming the file."""
    path = Path(path)
    text = read_text(path, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "the file is damaged or was edited by hand, restore it or delete it"
        ) from exc
