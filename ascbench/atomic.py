"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every result ascbench writes goes through :func:`atomic_write_bytes`: the content is written
to a temporary file in the same directory, flushed to disk, and moved over the target with
:func:`os.replace`. Leftover temporaries of a crash are hidden files ending in
:data:`TEMP_SUFFIX`, which readers skip (:func:`is_temp_file`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ascbench.errors import AscbenchError

#: Suffix of the temporary files :func:`atomic_write_bytes` creates next to its target.
TEMP_SUFFIX = ".tmp"


class OutputError(AscbenchError):
    """A result or output file cannot be written."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + ``os.replace``).

    Parent directories are created. If anything fails, ``path`` keeps its old content (or stays
    absent) and the temporary file is removed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX
        )
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot write ({exc.strerror or exc}); check that the directory is writable"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise OutputError(
                f"{path}: cannot write ({exc.strerror or exc}); the previous file, if any, "
                "is unchanged"
            ) from exc
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable where the platform allows it (best effort)."""
    if os.name != "posix":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def is_temp_file(path: Path) -> bool:
    """Whether ``path`` is a temporary file left by an interrupted :func:`atomic_write_bytes`."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)
