"""Shared pieces of the dataset loaders: the check report, CSV reading, file and header checks.

Every loader first builds a :class:`DataReport` (what it found, every problem, the dataset if
it could be built); ``ascbench data check`` prints the report, and the ``load_*`` functions
raise its first error as a one-line :class:`~ascbench.errors.DatasetError`.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ascbench.data.audio import audio_info
from ascbench.data.base import Dataset
from ascbench.errors import AudioError, DatasetError

#: How many audio headers to read when ``headers="sample"``.
HEADER_SAMPLE = 256
HeaderMode = Literal["sample", "all"]


@dataclass
class DataReport:
    """What a loader found at a path: layout, facts, warnings, errors and the dataset."""

    path: Path
    layout: str = "unknown"  #: 'tau', 'synthetic' or 'folder'
    root: Path | None = None
    dataset: Dataset | None = None
    facts: list[str] = field(default_factory=list)  #: neutral observations, for printing
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    header_checked: int = 0  #: audio headers read
    header_total: int = 0  #: audio files in the dataset

    @property
    def ok(self) -> bool:
        return not self.errors and self.dataset is not None

    def raise_for_errors(self) -> Dataset:
        """Return the dataset, or raise the first error (one line) as a DatasetError."""
        if self.errors:
            more = len(self.errors) - 1
            suffix = (
                f" (and {more} more problem{'s' * (more > 1)}; run `ascbench data check "
                f"{self.path}` to list them)"
                if more
                else ""
            )
            raise DatasetError(self.errors[0] + suffix)
        if self.dataset is None:  # pragma: no cover - loaders always add an error instead
            raise DatasetError(f"{self.path}: no dataset could be loaded")
        return self.dataset


def examples(names: Iterable[str], n: int = 3) -> str:
    """``'a, b, c, ...'`` from the first ``n`` names."""
    names = list(names)
    text = ", ".join(names[:n])
    return text + (", ..." if len(names) > n else "")


# --------------------------------------------------------------------------- CSV


@dataclass
class Table:
    """A delimited text file read by header name."""

    path: Path
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]  #: (line number, {column: value})
    delimiter: str


def read_table(path: Path, required: Iterable[str], *, what: str = "file") -> Table:
    """Read a CSV/TSV with a header row; columns are matched by (lower-cased) name.

    The delimiter is a tab if the header has one, else a comma, else a semicolon (a single
    column needs none). LF and CRLF line endings, a UTF-8 byte-order mark, blank lines and a
    missing final newline are all accepted. Raises :class:`DatasetError` naming the file and
    line for a missing required column or a short row.
    """
    lines = _read_text(path, what).splitlines()
    delimiter = _delimiter(lines[0] if lines else "")
    columns: list[str] = []
    rows: list[tuple[int, dict[str, str]]] = []
    for line_no, fields in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        if not columns:
            columns = _header_columns(path, fields, required)
            continue
        if not any(f.strip() for f in fields):
            continue
        _check_row_length(path, line_no, fields, columns, required, delimiter)
        values = {c: fields[i].strip() if i < len(fields) else "" for i, c in enumerate(columns)}
        rows.append((line_no, values))
    if not columns:
        raise DatasetError(f"{path}: the {what} is empty; it needs a header row and data rows")
    return Table(path=path, columns=columns, rows=rows, delimiter=delimiter)


def _read_text(path: Path, what: str) -> str:
    """The file's text (UTF-8, a byte-order mark dropped); a DatasetError if it cannot be."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the {what} as UTF-8 CSV"
        ) from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the {what} ({exc.strerror})") from exc


def _delimiter(header: str) -> str:
    """A tab if the header has one, else a comma, else a semicolon; a tab for one column."""
    return next((d for d in ("\t", ",", ";") if d in header), "\t")


def _header_columns(path: Path, fields: list[str], required: Iterable[str]) -> list[str]:
    """The lower-cased names of the header row; a DatasetError if a required one is missing."""
    columns = [c.strip().lower() for c in fields]
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(f"'{c}'" for c in columns) or "nothing"
        raise DatasetError(
            f"{path}: no {', '.join(repr(c) for c in missing)} column in the header row "
            f"(found {found}); the first line must name the columns"
        )
    return columns


def _check_row_length(
    path: Path,
    line_no: int,
    fields: list[str],
    columns: list[str],
    required: Iterable[str],
    delimiter: str,
) -> None:
    """A DatasetError if a row is too short to hold every required column."""
    if len(fields) >= len(columns):
        return
    needed = [c for c in required if columns.index(c) >= len(fields)]
    if needed:
        raise DatasetError(
            f"{path}:{line_no}: row has {len(fields)} field(s) but the header has "
            f"{len(columns)}; fix the row (is the delimiter '{delimiter!r}' right?)"
        )


def listed_name_problem(name: str, root: Path) -> str | None:
    """What is wrong with a file name listed in a labels or split file, or None: empty,
    absolute, holding control characters, or leading outside the dataset ``root``."""
    if not name:
        return "empty filename"
    if any(ord(ch) < 32 or ch == "\x7f" for ch in name):
        return f"filename {name!r} contains a control character; fix the row"
    if Path(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        return f"filename '{name}' is absolute (make it relative to {root})"
    if escapes_root(name, root):
        return (f"filename '{name}' points outside the dataset folder {root} (through '..' or "
                "a symbolic link); list only files under it")  # fmt: skip
    return None


def escapes_root(name: str, root: Path) -> bool:
    """Whether the listed file ``name`` resolves (``..`` and symbolic links followed) to a
    place outside the dataset ``root``: a labels file may only point inside its dataset."""
    base = Path(root).resolve()
    target = (base / name).resolve()
    return target != base and base not in target.parents


def normalise_name(name: str, *, audio_prefix: bool = False) -> str:
    """A listed file name as a clean relative POSIX path.

    Backslashes become slashes, a leading './' is dropped and a doubled 'audio/audio/' prefix
    is collapsed; with ``audio_prefix`` a bare name gets 'audio/' in front (TAU layout).
    """
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    while name.startswith("audio/audio/"):
        name = name[len("audio/") :]
    if audio_prefix and "/" not in name:
        name = "audio/" + name
    return name


# --------------------------------------------------------------------------- files


def existing_files(root: Path, names: Iterable[str]) -> set[str]:
    """Those of ``names`` (relative to ``root``) that exist as files, with one directory
    listing per folder instead of one ``stat`` per file."""
    by_dir: dict[str, list[str]] = {}
    for name in names:
        head, _, tail = name.rpartition("/")
        by_dir.setdefault(head, []).append(tail)
    found: set[str] = set()
    for head, tails in by_dir.items():
        folder = root / head if head else root
        try:
            with os.scandir(folder) as it:
                present = {e.name for e in it if e.is_file()}
        except OSError:
            continue
        found.update(f"{head}/{t}" if head else t for t in tails if t in present)
    return found


def _sample(names: list[str], mode: HeaderMode) -> list[str]:
    if mode == "all" or len(names) <= HEADER_SAMPLE:
        return names
    step = len(names) / HEADER_SAMPLE
    return [names[int(i * step)] for i in range(HEADER_SAMPLE)]


def check_headers(
    report: DataReport,
    root: Path,
    names: list[str],
    mode: HeaderMode = "sample",
    clip_seconds: float | None = None,
    progress: bool = False,
) -> tuple[int, float] | None:
    """Read the headers of (a sample of) ``names`` and record problems in ``report``.

    Errors: unreadable files; clips of different lengths (e.g. 1-s and 10-s clips mixed);
    a clip length other than ``clip_seconds`` when given. Warnings: several sample rates,
    multi-channel files. Returns ``(sample_rate, clip_seconds)`` of the majority, or None when
    no header could be read.
    """
    names = sorted(names)
    chosen = _sample(names, mode)
    report.header_checked, report.header_total = len(chosen), len(names)
    headers = _read_headers(root, chosen, progress)
    if headers.unreadable:
        report.errors.append(
            f"{len(headers.unreadable)} of {len(chosen)} checked audio files cannot be read; "
            f"first: {headers.unreadable[0]}"
        )
    if not headers.durations:
        return None
    clip = _check_clip_length(report, root, headers.durations, clip_seconds)
    _check_rates_and_channels(report, headers.rates, headers.channels)
    what = ("all" if len(chosen) == len(names)
            else f"{len(chosen)} of {len(names)} (--full checks all)")  # fmt: skip
    report.facts.append(
        f"audio headers checked: {what}; {clip:g} s, "
        + ", ".join(f"{r} Hz" for r in headers.rates)
        + ", "
        + ", ".join(f"{n}x {s}" for s, n in headers.subtypes.most_common())
        + ", "
        + ", ".join(f"{n}x {c} ch" for c, n in headers.channels.most_common())
    )
    return headers.rates.most_common(1)[0][0], clip


@dataclass
class _Headers:
    """What the audio headers of the checked files say."""

    durations: dict[str, float] = field(default_factory=dict)  #: file name -> seconds
    rates: Counter[int] = field(default_factory=Counter)
    channels: Counter[int] = field(default_factory=Counter)
    subtypes: Counter[str] = field(default_factory=Counter)
    unreadable: list[str] = field(default_factory=list)  #: one message a file


def _with_progress(names: Iterable[str], desc: str, progress: bool) -> Iterable[str]:
    """``names``, behind a tqdm progress bar when ``progress``."""
    if not progress:
        return names
    from tqdm import tqdm

    return tqdm(names, desc=desc, unit="file", leave=False, disable=None)  # terminal only


def _read_headers(root: Path, names: list[str], progress: bool) -> _Headers:
    headers = _Headers()
    for name in _with_progress(names, "reading headers", progress):
        try:
            info = audio_info(root / name)
        except AudioError as exc:
            headers.unreadable.append(str(exc))
            continue
        headers.durations[name] = info.seconds
        headers.rates[info.sample_rate] += 1
        headers.channels[info.channels] += 1
        headers.subtypes[info.subtype] += 1
    return headers


def _check_clip_length(
    report: DataReport, root: Path, durations: dict[str, float], clip_seconds: float | None
) -> float:
    """The clip length (the median, rounded to ms); records mixed lengths and a length other
    than ``clip_seconds`` as errors."""
    empty = sorted(name for name, sec in durations.items() if sec <= 0)
    if empty:
        report.errors.append(
            f"{root}: {len(empty)} audio files hold no samples, only a header (truncated "
            f"downloads or copies?): {examples(empty)}; re-extract or replace them"
        )
        durations = {name: sec for name, sec in durations.items() if sec > 0}
        if not durations:
            return 0.0
    # clip length: the median; anything off by more than 10 % is a different length
    ordered = sorted(durations.values())
    median = ordered[len(ordered) // 2]
    groups: dict[float, list[str]] = {}
    for name, sec in durations.items():
        key = median if abs(sec - median) <= 0.1 * median else round(sec, 1)
        groups.setdefault(key, []).append(name)
    if len(groups) > 1:
        parts = [
            f"{len(v)} clips of {k:g} s (e.g. {v[0]})"
            for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))
        ]
        report.errors.append(
            f"{root}: mixed clip lengths: {'; '.join(parts)}; a dataset must have one clip "
            "length (do not mix the 10-s 2020 and 1-s 2022 sets): remove the odd files"
        )
    clip = round(median, 3)
    if clip_seconds is not None and abs(clip - clip_seconds) > 0.1 * clip_seconds:
        report.errors.append(
            f"{root}: clips are {clip:g} s long but {clip_seconds:g}-s clips are required; "
            + (
                "use the TAU 2022 Mobile set (1-s clips) or a 10-s rule set (dcase2021)"
                if clip_seconds < clip
                else "use the TAU 2020 Mobile set (10-s clips) or a 1-s rule set (dcase2022)"
            )
        )
    return clip


def _check_rates_and_channels(
    report: DataReport, rates: Counter[int], channels: Counter[int]
) -> None:
    """Warnings for several sample rates and for multi-channel files."""
    if len(rates) > 1:
        report.warnings.append(
            "several sample rates: "
            + ", ".join(f"{r} Hz ({n} files)" for r, n in rates.most_common())
            + "; audio is resampled when read"
        )
    if any(c > 1 for c in channels):
        multi = sum(n for c, n in channels.items() if c > 1)
        report.warnings.append(
            f"{multi} checked files have more than one channel; they are averaged to mono when read"
        )


def decode_all(
    report: DataReport, root: Path, names: list[str], sample_rate: int, progress: bool = False
) -> None:
    """Decode every file (slow) and record unreadable, empty, NaN or infinite audio."""
    from ascbench.data.audio import load_audio

    bad: list[str] = []
    for name in _with_progress(sorted(names), "decoding audio", progress):
        try:
            load_audio(root / name, sample_rate)
        except AudioError as exc:
            bad.append(str(exc))
    if bad:
        report.errors.append(f"{len(bad)} of {len(names)} audio files are unusable; first: "
                             f"{bad[0]}")  # fmt: skip
    else:
        report.facts.append(f"decoded all {len(names)} audio files: no problems")
