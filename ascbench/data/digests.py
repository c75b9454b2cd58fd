"""Content digests of audio files, so that a dataset's fingerprint changes whenever a file's
bytes do, at the cost of a ``stat`` per file on every use.

Each file's BLAKE2b digest is kept in a digest cache (``<cache>/digests/<root hash>.json``)
beside the file's size, modification time, status-change time and inode, all in
nanoseconds. A file is hashed again only when one of them differs; rewriting a file changes
its ``ctime`` and a replacement changes its inode even when the size and the modification
time are set back (``os.utime`` cannot set ``ctime``), so the shortcut does not hide an edit.
The cost is reported in the README (``benchmarks/test_fingerprint_cost.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ascbench.atomic import atomic_write_text

CHUNK = 1 << 20
MISSING = "missing"


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def digest_cache_file(root: Path, cache_root: Path | None = None) -> Path:
    """Where the digests of the files under ``root`` are kept."""
    from ascbench.paths import cache_dir

    base = Path(cache_root) if cache_root is not None else cache_dir() / "digests"
    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:20]
    return base / f"{key}.json"


def file_digests(
    root: Path, names: Sequence[str], *, workers: int = 4, cache_root: Path | None = None
) -> list[str]:
    """The content digest of each ``root/name`` (``'missing'`` for a file that is not there),
    hashing only files whose size, times or inode changed since they were last hashed."""
    path = digest_cache_file(root, cache_root)
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    stats: dict[str, list[int] | None] = {}
    for name in names:
        try:
            stats[name] = _stat_key(os.stat(Path(root) / name))
        except OSError:
            stats[name] = None
    todo = [n for n in names if stats[n] is not None
            and (known.get(n) or [None])[:-1] != stats[n]]  # fmt: skip
    if todo:
        with ThreadPoolExecutor(max(1, workers)) as pool:
            for name, digest in zip(todo, pool.map(lambda n: _digest(Path(root) / n), todo),
                                    strict=True):  # fmt: skip
                known[name] = [*stats[name], digest]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(known, separators=(",", ":")))
        except OSError:
            pass  # a read-only cache only costs the hashing again next time
    return [known[n][-1] if stats[n] is not None else MISSING for n in names]
