"""TAU Urban Acoustic Scenes 2020 Mobile (10 s) and 2022 Mobile (1 s) development sets.

Official layout (also what :mod:`ascbench.data.synth` writes)::

    ROOT/audio/*.wav
    ROOT/meta.csv                          filename, scene_label, identifier, source_label
    ROOT/evaluation_setup/fold1_train.csv  filename, scene_label
    ROOT/evaluation_setup/fold1_evaluate.csv (labelled test split; 'test' here)
    ROOT/evaluation_setup/fold1_test.csv   filename (same files, no labels; not used)
    ROOT/split_setup/split{5,10,25,50,100}.csv, test.csv   (DCASE 2024 splits, optional)

All CSVs are read by header name (tab-separated; CRLF and a missing final newline are fine).
Device, city and location come from ``meta.csv``; a 2022 clip's parent is its 10-s recording,
its name without the ``-<k>`` slice field. The loader checks, with one-line messages that say
what to do: wrong folder level, meta archive not extracted, audio not extracted, files listed
but missing (error, or skipped and recorded in the notes with ``skip_missing``), unreadable
audio, mixed clip lengths, unknown labels, files in both splits, evaluation sets.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ascbench.data.base import Clip, Dataset
from ascbench.data.checks import (
    DataReport,
    HeaderMode,
    Table,
    check_headers,
    examples,
    existing_files,
    listed_name_problem,
    normalise_name,
    read_table,
)
from ascbench.errors import DatasetError
from ascbench.scenes import SCENES

#: Zenodo archive prefixes of the two development sets.
ARCHIVES: dict[str, str] = {
    "2020": "TAU-urban-acoustic-scenes-2020-mobile-development",
    "2022": "TAU-urban-acoustic-scenes-2022-mobile-development",
}
#: Where the DCASE 2024 baseline downloads split5.csv ... split100.csv and test.csv from.
SPLITS_URL = "https://github.com/CPJKU/dcase2024_task1_baseline/releases/download/files/"
#: Accepted values of ``split`` besides a path to a split CSV.
SPLIT_NAMES: tuple[str, ...] = ("fold1", "split5", "split10", "split25", "split50", "split100")


@dataclass(frozen=True)
class TauName:
    """The fields of a TAU development file name."""

    scene: str
    city: str
    location: str
    segment: str
    k: int | None  #: 1-s slice index (2022 names only)
    device: str

    @property
    def year(self) -> str:
        return "2020" if self.k is None else "2022"

    @property
    def identifier(self) -> str:
        return f"{self.city}-{self.location}"


def parse_name(filename: str) -> TauName | None:
    """Parse ``[audio/]<scene>-<city>-<location>-<segment>[-<k>]-<device>.wav``; None if the
    name does not follow the grammar (e.g. evaluation sets' ``audio/<n>.wav``)."""
    stem = filename.rsplit("/", 1)[-1]
    stem = stem[: -len(".wav")] if stem.lower().endswith(".wav") else stem
    f = stem.split("-")
    if len(f) == 5 and f[2].isdigit() and f[3].isdigit():
        return TauName(f[0], f[1], f[2], f[3], None, f[4])
    if len(f) == 6 and f[2].isdigit() and f[3].isdigit() and f[4].isdigit() and len(f[4]) == 1:
        return TauName(f[0], f[1], f[2], f[3], int(f[4]), f[5])
    return None


def parent_of(filename: str, name: TauName | None = None) -> str | None:
    """The 10-s parent recording of a 2022 1-s clip: the name without its ``-<k>`` field,
    ``audio/airport-lisbon-1000-40000-0-a.wav`` -> ``audio/airport-lisbon-1000-40000-a.wav``.
    None for names that are not 2022 clip names. ``name`` = ``parse_name(filename)`` if known."""
    name = name or parse_name(filename)
    if name is None or name.k is None:
        return None
    head = filename.rsplit("/", 1)[0] + "/" if "/" in filename else ""
    return f"{head}{name.scene}-{name.city}-{name.location}-{name.segment}-{name.device}.wav"


def is_tau_root(path: Path) -> bool:
    """True if ``path`` holds ``meta.csv`` and an ``audio/`` folder."""
    return (path / "meta.csv").is_file() and (path / "audio").is_dir()


def find_tau_roots(path: Path) -> list[Path]:
    """TAU roots one level up from or down into ``path`` (for wrong-level hints)."""
    found: list[Path] = []
    if path.parent != path and is_tau_root(path.parent):
        found.append(path.parent)
    try:
        children = sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        children = []
    found.extend(c for c in children if is_tau_root(c))
    return found


def guess_year(root: Path) -> str | None:
    """'2020' or '2022' from the folder name or the first audio file name, else None."""
    for year in ("2020", "2022"):
        if year in root.name:
            return year
    audio = root / "audio"
    if audio.is_dir():
        with os.scandir(audio) as entries:  # a hint only: the first few entries, unsorted
            for entry in itertools.islice(entries, 20):
                name = parse_name(entry.name)
                if name is not None:
                    return name.year
    return None


def _meta_zip_hint(root: Path, year: str | None) -> str:
    """Which meta archive to extract, naming one found nearby if any."""
    for folder in (root, root.parent):
        zips = sorted(folder.glob("*.meta.zip"))
        if zips:
            return f"unzip {zips[0]} into {root}"
    if year:
        return f"unzip {ARCHIVES[year]}.meta.zip into {root}"
    return (f"unzip {ARCHIVES['2022']}.meta.zip (1-s set) or {ARCHIVES['2020']}.meta.zip "
            f"(10-s set) into {root}")  # fmt: skip


def _audio_zip_hint(root: Path, year: str | None) -> str:
    prefix = ARCHIVES[year] if year else "TAU-urban-acoustic-scenes-20XX-mobile-development"
    return f"unzip {prefix}.audio.1.zip ... .audio.16.zip into {root}"


def _split_files(
    root: Path, split: str, report: DataReport, year: str | None
) -> tuple[Path, Path] | None:
    """The train and test CSVs for ``split``; records an error and returns None if absent."""
    setup = root / "evaluation_setup"
    evaluate = setup / "fold1_evaluate.csv"
    if split == "fold1":
        train = setup / "fold1_train.csv"
        if not train.is_file() or not evaluate.is_file():
            missing = train if not train.is_file() else evaluate
            report.errors.append(
                f"{missing} is missing: the meta archive was not (fully) extracted; "
                f"{_meta_zip_hint(root, year)}"
            )
            return None
        return train, evaluate
    if re.fullmatch(r"split\d+", split):
        candidates = [root / "split_setup" / f"{split}.csv", setup / f"{split}.csv",
                      root / f"{split}.csv"]  # fmt: skip
    elif split.lower().endswith(".csv"):
        given = Path(split).expanduser()
        candidates = [given] if given.is_absolute() else [Path.cwd() / given, root / given]
    else:
        report.errors.append(
            f"unknown split '{split}'; use {', '.join(SPLIT_NAMES)} or the path of a split CSV"
        )
        return None
    train = next((c for c in candidates if c.is_file()), None)
    if train is None:
        report.errors.append(
            f"{candidates[0]}: split file not found; download {split}.csv and test.csv from "
            f"{SPLITS_URL} into {root / 'split_setup'}"
            if re.fullmatch(r"split\d+", split) else f"{candidates[0]}: split file not found"
        )  # fmt: skip
        return None
    test = train.parent / "test.csv"
    if not test.is_file():
        if not evaluate.is_file():
            report.errors.append(
                f"{test} and {evaluate} are both missing; put the DCASE 2024 test.csv next to "
                f"{train.name}, or {_meta_zip_hint(root, year)}"
            )
            return None
        test = evaluate
    return train, test


def _is_eval_set(root: Path) -> bool:
    """An evaluation set: fold1_test.csv listing integer file names (no labels anywhere)."""
    test = root / "evaluation_setup" / "fold1_test.csv"
    if not test.is_file():
        return False
    try:
        table = read_table(test, ["filename"], what="setup file")
    except DatasetError:
        return False
    names = [r["filename"].rsplit("/", 1)[-1] for _, r in table.rows[:20]]
    return bool(names) and all(n.split(".")[0].isdigit() for n in names)


def scan_tau(
    root: str | Path,
    *,
    split: str = "fold1",
    skip_missing: bool = False,
    headers: HeaderMode = "sample",
    clip_seconds: float | None = None,
    progress: bool = False,
) -> DataReport:
    """Check a TAU development-set folder and build its :class:`Dataset` (``report.dataset``).

    ``split`` chooses the training list: ``"fold1"`` (``evaluation_setup/fold1_train.csv``,
    test = ``fold1_evaluate.csv``) or a DCASE 2024 split ``"split5"`` ... ``"split100"`` (or a
    path to such a CSV; test = ``test.csv`` next to it, else ``fold1_evaluate.csv``).
    Every problem found goes into ``report.errors`` / ``report.warnings``.
    """
    root = Path(root).expanduser().absolute()
    report = DataReport(path=root, layout="tau", root=root)
    if not root.is_dir():
        report.errors.append(f"{root}: no such folder; pass the folder holding meta.csv and audio/")
        return report
    year = guess_year(root)
    if not _check_layout(report, root, year):
        return report
    lists = _read_lists(report, root, split, year)
    if lists is None:
        return report
    meta, files, tables = lists
    synth = _synthetic_info(root)
    report.layout = "synthetic" if synth else "tau"
    report.facts.append(_layout_fact(root, synth, meta, files, tables))
    _build(report, root, meta, tables, split, skip_missing, synth)
    if report.dataset is None:
        return report
    if synth and headers == "all" and synth.get("content_sha256"):
        _check_synthetic_content(report, root, synth["content_sha256"])
    names = [c.filename for clips in report.dataset.splits.values() for c in clips]
    found = check_headers(report, root, names, headers, clip_seconds, progress)
    if found is None:
        return report
    report.dataset.sample_rate, report.dataset.clip_seconds = found
    return report


def _check_layout(report: DataReport, root: Path, year: str | None) -> bool:
    """Whether ``root`` looks like an extracted development set; records an error if not."""
    meta_path, audio = root / "meta.csv", root / "audio"
    if not (root / "evaluation_setup" / "fold1_train.csv").is_file() and _is_eval_set(root):
        report.errors.append(
            f"{root}: this is an evaluation set (integer file names, no "
            "labels); pass a development set"
        )
        return False
    if not meta_path.is_file() and not audio.is_dir():
        report.errors.append(_not_a_root_error(root, year))
        return False
    if not meta_path.is_file():
        report.errors.append(
            f"{meta_path} is missing: the meta archive was not extracted; "
            f"{_meta_zip_hint(root, year)}"
        )
        return False
    if not audio.is_dir() or not any(audio.iterdir()):
        report.errors.append(
            f"{audio} is missing or empty: the audio archives were not "
            f"extracted; {_audio_zip_hint(root, year)}"
        )
        return False
    return True


def _not_a_root_error(root: Path, year: str | None) -> str:
    """What to do about a folder with neither meta.csv nor audio/."""
    found = find_tau_roots(root)
    if found:
        return (
            f"{root}: no meta.csv and audio/ here, but a TAU dataset root is at {found[0]}"
            + (f" (also {examples(map(str, found[1:]))})" if len(found) > 1 else "")
            + "; pass that folder instead"
        )
    if list(root.glob("*.meta.zip")):
        return (
            f"{root}: the TAU archives are not extracted; {_meta_zip_hint(root, year)} and "
            f"{_audio_zip_hint(root, year)}"
        )
    return (
        f"{root}: not a TAU dataset root: no meta.csv and audio/ here or one level up or "
        "down; pass the folder that holds meta.csv and audio/"
    )


def _read_lists(
    report: DataReport, root: Path, split: str, year: str | None
) -> tuple[Table, tuple[Path, Path], dict[str, Table]] | None:
    """meta.csv, the train and test list files and their tables; None (and an error) if one
    cannot be found or read."""
    try:
        meta = read_table(root / "meta.csv", ["filename"], what="meta.csv")
        files = _split_files(root, split, report, year)
        if files is None:
            return None
        tables = {
            "train": read_table(files[0], ["filename"], what="split file"),
            "test": read_table(files[1], ["filename"], what="split file"),
        }
    except DatasetError as exc:
        report.errors.append(str(exc))
        return None
    return meta, files, tables


def _layout_fact(
    root: Path,
    synth: dict | None,
    meta: Table,
    files: tuple[Path, Path],
    tables: dict[str, Table],
) -> str:
    def rel(p: Path) -> Path:
        return p.relative_to(root) if p.is_relative_to(root) else p

    style = ""
    if synth:
        style = f" (synthetic, made by ascbench: {synth.get('config', {}).get('style')})"
    return (
        f"layout: TAU development set at {root}{style}; train list {rel(files[0])} "
        f"({len(tables['train'].rows)} rows), test list {rel(files[1])} "
        f"({len(tables['test'].rows)} rows), meta.csv {len(meta.rows)} rows"
    )


def _check_synthetic_content(report: DataReport, root: Path, expected: str) -> None:
    """Compare a synthetic set's files with the content hash recorded when it was made."""
    from ascbench.data.synth import content_digest

    if content_digest(root) != expected:
        report.errors.append(
            f"{root}: the synthetic files were changed after generation (content hash "
            "mismatch); delete the folder and generate it again"
        )
    else:
        report.facts.append(f"synthetic content hash verified: {expected}")


def _synthetic_info(root: Path) -> dict | None:
    path = root / "synthetic.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("generator") else None


@dataclass
class _Joined:
    """The split lists joined with meta.csv: the clips of each split and what did not fit."""

    splits: dict[str, list[Clip]] = field(default_factory=dict)
    unknown_labels: list[str] = field(default_factory=list)  #: 'file:line 'label''
    not_in_meta: Counter[str] = field(default_factory=Counter)  #: split -> rows
    disagree: list[str] = field(default_factory=list)  #: files labelled otherwise in meta.csv
    years: dict[str, list[str]] = field(default_factory=dict)  #: '2020'/'2022' -> file names
    duplicates: list[str] = field(default_factory=list)  #: files in both lists
    outside: list[str] = field(default_factory=list)  #: 'file:line name' outside the root


def _build(
    report: DataReport,
    root: Path,
    meta: Table,
    tables: dict[str, Table],
    split: str,
    skip_missing: bool,
    synth: dict | None,
) -> None:
    """Join the split lists with meta.csv, check them, and set ``report.dataset``."""
    joined = _join(meta, tables, root)
    _report_join_problems(report, root, joined)
    notes: list[str] = []
    splits = _drop_missing(report, root, joined.splits, skip_missing, notes)
    for part, clips in splits.items():
        if not clips and not report.errors:
            report.errors.append(
                f"{tables[part].path}: the {part} split has no usable clips; "
                "check the file and the audio folder"
            )
    _warn_leakage(report, splits)
    if report.errors:
        return
    year = next(iter(joined.years), None)
    name = _dataset_name(root, split, synth, year, notes)
    counts = ", ".join(f"{p} {len(c)}" for p, c in splits.items())
    notes.append(
        f"clips used: {counts} (train list: {tables['train'].path.name}, test list: "
        f"{tables['test'].path.name})"
    )
    content = synth.get("content_sha256") if synth else None
    report.dataset = Dataset(
        name=name,
        root=root,
        sample_rate=44100,
        clip_seconds=1.0 if year == "2022" else 10.0,
        splits=splits,
        notes=notes,
        content_hash=content,
    )


def _join(meta: Table, tables: dict[str, Table], root: Path) -> _Joined:
    """The clips of each split list, a file listed twice kept in the first list it is in."""
    meta_rows = {
        normalise_name(r["filename"], audio_prefix=True): (line, r) for line, r in meta.rows
    }
    joined = _Joined()
    seen: dict[str, str] = {}
    for part, table in tables.items():
        clips: list[Clip] = []
        for line, row in table.rows:
            fn = normalise_name(row["filename"], audio_prefix=True)
            if fn in seen:
                if seen[fn] != part:
                    joined.duplicates.append(fn)
                continue
            seen[fn] = part
            where = f"{table.path.name}:{line}"
            if listed_name_problem(fn, root):
                joined.outside.append(f"{where} {fn!r}")
                continue
            clip = _join_row(joined, part, where, fn, row, meta_rows.get(fn, (0, {}))[1])
            if clip is not None:
                clips.append(clip)
        joined.splits[part] = clips
    return joined


def _join_row(
    joined: _Joined, part: str, where: str, fn: str, row: dict[str, str], m: dict[str, str]
) -> Clip | None:
    """The clip of one list row ``row`` and its meta.csv row ``m`` (empty if none); None for a
    label that is not a DCASE scene. What does not fit is recorded in ``joined``."""
    parsed = parse_name(fn)
    if parsed is not None:
        joined.years.setdefault(parsed.year, []).append(fn)
    if not m:
        joined.not_in_meta[part] += 1
    label = row.get("scene_label") or m.get("scene_label") or (parsed.scene if parsed else "")
    listed_label = row.get("scene_label")
    if m.get("scene_label") and listed_label and m["scene_label"] != listed_label:
        joined.disagree.append(fn)
    if label not in SCENES:
        joined.unknown_labels.append(f"{where} '{label}'")
        return None
    identifier = m.get("identifier") or (parsed.identifier if parsed else None)
    device = m.get("source_label") or (parsed.device if parsed else None)
    city = identifier.split("-", 1)[0] if identifier else None
    return Clip(
        filename=fn,
        scene_label=label,
        device=device,
        city=city,
        identifier=identifier,
        parent=parent_of(fn, parsed),
    )


def _report_join_problems(report: DataReport, root: Path, joined: _Joined) -> None:
    if joined.outside:
        report.errors.append(
            f"{len(joined.outside)} rows name files that are not plain paths inside the dataset "
            f"folder {root} (a control character, an absolute path, or a way out through '..' or "
            f"a symbolic link: {examples(joined.outside)}); list only files under it"
        )
    if joined.unknown_labels:
        report.errors.append(
            f"{len(joined.unknown_labels)} rows have labels that are not DCASE scenes "
            f"({examples(joined.unknown_labels)}); fix the CSVs (labels: {', '.join(SCENES)})"
        )
    if joined.duplicates:
        report.errors.append(
            f"{len(joined.duplicates)} files are listed in both the train and the test list "
            f"({examples(joined.duplicates)}); check the split files"
        )
    years = joined.years
    if len(years) > 1:
        report.errors.append(
            f"{root}: mixed 10-s (2020) and 1-s (2022) file names ({len(years['2020'])} like "
            f"{years['2020'][0]}, {len(years['2022'])} like {years['2022'][0]}); keep the two "
            "sets in separate folders"
        )
    if joined.not_in_meta:
        report.warnings.append(
            f"{sum(joined.not_in_meta.values())} listed files are not in meta.csv ("
            + ", ".join(f"{p} {n}" for p, n in joined.not_in_meta.items())
            + "); their device and location were taken from the file names"
        )
    if joined.disagree:
        report.warnings.append(
            f"{len(joined.disagree)} files have a different scene_label in meta.csv than in "
            f"the split list ({examples(joined.disagree)})"
        )


def _drop_missing(
    report: DataReport,
    root: Path,
    splits: dict[str, list[Clip]],
    skip_missing: bool,
    notes: list[str],
) -> dict[str, list[Clip]]:
    """The clips whose files exist; files listed but not on disk are an error, or skipped and
    noted."""
    listed = [c.filename for clips in splits.values() for c in clips]
    present = existing_files(root, listed)
    missing = {
        p: [c.filename for c in clips if c.filename not in present] for p, clips in splits.items()
    }
    n_missing = sum(map(len, missing.values()))
    if not n_missing:
        return splits
    where = ", ".join(f"{p} {len(m)}" for p, m in missing.items() if m)
    first = examples([f for m in missing.values() for f in m], 5)
    if skip_missing:
        notes.append(
            f"skipped {n_missing} listed files missing from {root / 'audio'} ({where}): {first}"
        )
        report.warnings.append(notes[-1])
        return {p: [c for c in clips if c.filename in present] for p, clips in splits.items()}
    report.errors.append(
        f"{n_missing} of {len(listed)} listed files are missing from {root / 'audio'} "
        f"({where}; first: {first}); re-extract the audio archives, or pass "
        "--skip-missing (skip_missing=True) to leave them out and record them in the notes"
    )
    return splits


def _warn_leakage(report: DataReport, splits: dict[str, list[Clip]]) -> None:
    """Warnings for locations and 10-s recordings in both splits (the official split is
    clean)."""
    shared = _in_both_splits(splits, lambda c: c.identifier)
    if shared:
        report.warnings.append(
            f"{len(shared)} locations appear in both train and test "
            f"({examples(sorted(shared))}); the split is not location-disjoint"
        )
    straddle = _in_both_splits(splits, lambda c: c.parent)
    if straddle:
        report.warnings.append(
            f"{len(straddle)} 10-s recordings have 1-s clips in both train "
            f"and test ({examples(sorted(straddle))})"
        )


def _in_both_splits(
    splits: dict[str, list[Clip]], key: Callable[[Clip], str | None]
) -> set[str | None]:
    """The values of ``key`` (empty ones left out) found among both train and test clips."""
    values = {p: {key(c) for c in clips if key(c)} for p, clips in splits.items()}
    return values.get("train", set()) & values.get("test", set())


def _dataset_name(
    root: Path, split: str, synth: dict | None, year: str | None, notes: list[str]
) -> str:
    """The dataset's name; a synthetic set also gets a note that its results are not DCASE's."""
    if synth:
        name = f"synthetic-{synth.get('config', {}).get('style', 'tau')}"
        notes.append(
            f"synthetic data made by ascbench (generator version {synth.get('version')},"
            f" seed {synth.get('config', {}).get('seed')}, content sha256 "
            f"{str(synth.get('content_sha256', '?'))[:16]}); results on it are NOT "
            "comparable with DCASE results on TAU data"
        )
    else:
        name = f"tau{year}-mobile-dev" if year else f"tau-{root.name}"
    if split != "fold1":
        name += f"-{Path(split).stem}"
    return name


def load_tau(
    root: str | Path,
    *,
    split: str = "fold1",
    skip_missing: bool = False,
    clip_seconds: float | None = None,
) -> Dataset:
    """Load a TAU development set (see :func:`scan_tau`); raises :class:`DatasetError` with a
    one-line message for the first problem found."""
    return scan_tau(root, split=split, skip_missing=skip_missing,
                    clip_seconds=clip_seconds).raise_for_errors()  # fmt: skip
