"""The result store: a directory holding one JSON file per finished entry.

Layout::

    <root>/<ruleset>/<system>/seed<k>.json              the entry (hashed)
    <root>/<ruleset>/<system>/seed<k>.predictions.csv   per-clip predictions (written by the run)

Each entry is written atomically as soon as it is finished, so an interrupted run keeps every
entry it finished, and ``ascbench run --resume`` skips them (:meth:`ResultStore.exists`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ascbench.leaderboard._io import atomic_write_text, is_temp_file, read_json
from ascbench.leaderboard.defaults import DEFAULT_RESULTS
from ascbench.leaderboard.entry import (
    LeaderboardEntry,
    LeaderboardError,
    _safe_name,
    parse_entry,
)

_SEED_FILE = re.compile(r"seed(0|[1-9][0-9]*)\.json")


class ResultStore:
    """A results directory of ``<ruleset>/<system>/seed<k>.json`` entry files."""

    def __init__(self, root: str | Path = DEFAULT_RESULTS):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------
    def _dir(self, system: str, ruleset: str) -> Path:
        try:
            return (
                self.root / _safe_name(ruleset, "rule-set name") / _safe_name(system, "system name")
            )
        except ValueError as exc:
            raise LeaderboardError(f"{self.root}: {exc}") from None

    def path_for(self, system: str, ruleset: str, seed: int) -> Path:
        """Where the entry of (system, ruleset, seed) is stored."""
        if seed < 0:
            raise LeaderboardError(f"{self.root}: seed must be >= 0, got {seed}")
        return self._dir(system, ruleset) / f"seed{seed}.json"

    def predictions_path(self, system: str, ruleset: str, seed: int) -> Path:
        """Where the run writes the per-clip predictions of (system, ruleset, seed)."""
        return self.path_for(system, ruleset, seed).with_suffix(".predictions.csv")

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: str | Path) -> LeaderboardEntry:
        """Read, validate and hash-verify one entry file; it must sit where its key says."""
        path = Path(path)
        entry = parse_entry(read_json(path, LeaderboardError), str(path))
        expected = self.path_for(*entry.key)
        if path.resolve() != expected.resolve():
            raise LeaderboardError(
                f"{path}: holds {entry.label()}, which belongs at {expected}; move it there "
                "or delete it"
            )
        return entry

    def get(self, system: str, ruleset: str, seed: int) -> LeaderboardEntry | None:
        """The stored entry of (system, ruleset, seed), or None if there is none."""
        path = self.path_for(system, ruleset, seed)
        return self.read(path) if path.exists() else None

    def exists(self, system: str, ruleset: str, seed: int, *, include_failed: bool = False) -> bool:
        """Whether a finished entry is stored (for ``--resume``).

        Failed entries do not count unless ``include_failed``, so a resumed run retries them.
        A stored file that is malformed or tampered raises :class:`LeaderboardError` instead of
        being silently overwritten.
        """
        entry = self.get(system, ruleset, seed)
        return entry is not None and (include_failed or entry.status != "failed")

    def entry_files(self) -> list[Path]:
        """All ``<ruleset>/<system>/seed<k>.json`` files, sorted; temporaries are skipped."""
        if not self.root.is_dir():
            return []
        files = [
            p
            for p in self.root.glob("*/*/seed*.json")
            if p.is_file() and _SEED_FILE.fullmatch(p.name) and not is_temp_file(p)
        ]
        return sorted(files, key=lambda p: (p.parent.parent.name, p.parent.name, _seed_of(p)))

    #: files a job writes beside its entry before the entry itself
    JOB_FILE_SUFFIXES = (".predictions.csv", ".truth.csv", ".model.pt")

    def orphaned_job_files(self) -> list[Path]:
        """Files of jobs stopped (Ctrl-C, kill) after writing their predictions or model but
        before their entry: ``seed<k>.predictions.csv`` etc. without ``seed<k>.json``."""
        if not self.root.is_dir():
            return []
        found = []
        for suffix in self.JOB_FILE_SUFFIXES:
            for path in self.root.glob(f"*/*/seed*{suffix}"):
                entry = path.with_name(path.name[: -len(suffix)] + ".json")
                if _SEED_FILE.fullmatch(entry.name) and not entry.exists():
                    found.append(path)
        return sorted(found)

    def load_all(self, *, errors: list[str] | None = None) -> list[LeaderboardEntry]:
        """Every stored entry, validated and hash-verified, sorted by (ruleset, system, seed).

        By default the first bad file raises :class:`LeaderboardError`. Lenient mode: pass a
        list as ``errors`` and each bad file is skipped and described there in one line.
        """
        if not self.root.is_dir():
            message = (
                f"{self.root}: results directory not found; run `ascbench run` first or pass "
                "--results DIR"
            )
            if errors is None:
                raise LeaderboardError(message)
            errors.append(message)
            return []
        entries = []
        for path in self.entry_files():
            try:
                entries.append(self.read(path))
            except LeaderboardError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
        return entries

    # -- writing -----------------------------------------------------------------------------
    def write(self, entry: LeaderboardEntry, *, overwrite: bool = False) -> Path:
        """Store ``entry`` atomically (hashing it first if needed); return its path.

        An identical stored entry is left as it is. A different stored entry for the same
        (system, ruleset, seed) is only replaced with ``overwrite=True``; a stored file that does
        not validate is never replaced.
        """
        if entry.entry_hash is None:
            entry = entry.with_hash()
        elif not entry.verify():
            raise LeaderboardError(
                f"{entry.label()}: entry_hash does not match the content; build the entry with "
                "build_entry() or call with_hash() after changing it"
            )
        path = self.path_for(*entry.key)
        if path.exists():
            old = self.read(path)
            if old.entry_hash == entry.entry_hash:
                return path
            if not overwrite:
                raise LeaderboardError(
                    f"{path}: already holds a different result for {entry.label()}; keep it "
                    "(resume) or delete the file to store a new one"
                )
        atomic_write_text(path, entry.to_json())
        return path


def _seed_of(path: Path) -> int:
    match = _SEED_FILE.fullmatch(path.name)
    return int(match.group(1)) if match else -1
