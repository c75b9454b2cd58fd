"""One ``ascbench run`` at a time on a results directory.

Two runs writing one directory would both redo every job and race on the rendered board.
:func:`results_lock` holds an advisory ``flock`` on ``<results>/.ascbench-run.lock`` for the
whole run; the operating system drops it when the process ends however it ends (Ctrl-C,
``kill -9``), so a lock is never stale. A second run refuses at once with one line naming the
holder (pid, host, start time), or, with ``wait=True``, waits for it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ascbench.errors import AscbenchError

LOCK_FILE = ".ascbench-run.lock"


class ResultsBusy(AscbenchError):
    """Another run holds the results directory."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def results_lock(results: Path, *, wait: bool = False, poll: float = 1.0) -> Iterator[None]:
    """Hold the run lock of ``results`` (created if needed) for the ``with`` block."""
    import fcntl

    results.mkdir(parents=True, exist_ok=True)
    path = results / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise ResultsBusy(
                        f"{results}: another ascbench run is writing here ({_holder(path)}); "
                        "wait for it to finish (or pass --wait), or give another --results"
                    ) from None
                time.sleep(poll)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
