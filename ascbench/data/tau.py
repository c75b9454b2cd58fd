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
from dataclasses import dataclass
from pathlib import Path

from ascbench.data.base import Clip, Dataset
from ascbench.data.checks import (
    DataReport,
    HeaderMode,
    Table,
    check_headers,
    examples,
    existing_files,
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


def _split_files(root: Path, split: str, report: DataReport, year: str | None
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
    meta_path, audio = root / "meta.csv", root / "audio"
    year = guess_year(root)
    if not (root / "evaluation_setup" / "fold1_train.csv").is_file() and _is_eval_set(root):
        report.errors.append(f"{root}: this is an evaluation set (integer file names, no "
                             "labels); pass a development set")  # fmt: skip
        return report
    if not meta_path.is_file() and not audio.is_dir():
        found = find_tau_roots(root)
        if found:
            report.errors.append(
                f"{root}: no meta.csv and audio/ here, but a TAU dataset root is at {found[0]}"
                + (f" (also {examples(map(str, found[1:]))})" if len(found) > 1 else "")
                + "; pass that folder instead"
            )
        elif list(root.glob("*.meta.zip")):
            report.errors.append(
                f"{root}: the TAU archives are not extracted; {_meta_zip_hint(root, year)} and "
                f"{_audio_zip_hint(root, year)}"
            )
        else:
            report.errors.append(
                f"{root}: not a TAU dataset root: no meta.csv and audio/ here or one level up or "
                "down; pass the folder that holds meta.csv and audio/"
            )
        return report
    if not meta_path.is_file():
        report.errors.append(
            f"{meta_path} is missing: the meta archive was not extracted; "
            f"{_meta_zip_hint(root, year)}"
        )
        return report
    if not audio.is_dir() or not any(audio.iterdir()):
        report.errors.append(f"{audio} is missing or empty: the audio archives were not "
                             f"extracted; {_audio_zip_hint(root, year)}")  # fmt: skip
        return report
    try:
        meta = read_table(meta_path, ["filename"], what="meta.csv")
        files = _split_files(root, split, report, year)
        if files is None:
            return report
        tables = {"train": read_table(files[0], ["filename"], what="split file"),
                  "test": read_table(files[1], ["filename"], what="split file")}  # fmt: skip
    except DatasetError as exc:
        report.errors.append(str(exc))
        return report
    synth = _synthetic_info(root)
    report.layout = "synthetic" if synth else "tau"
    def rel(p: Path) -> Path:
        return p.relative_to(root) if p.is_relative_to(root) else p

    style = f" (synthetic, made by ascbench: {synth.get('config', {}).get('style')})" \
        if synth else ""
    report.facts.append(
        f"layout: TAU development set at {root}{style}; train list {rel(files[0])} "
        f"({len(tables['train'].rows)} rows), test list {rel(files[1])} "
        f"({len(tables['test'].rows)} rows), meta.csv {len(meta.rows)} rows"
    )
    _build(report, root, meta, tables, split, skip_missing, synth)
    if report.dataset is None:
        return report
    if synth and headers == "all" and synth.get("content_sha256"):
        from ascbench.data.synth import content_digest

        if content_digest(root) != synth["content_sha256"]:
            report.errors.append(
                f"{root}: the synthetic files were changed after generation (content hash "
                "mismatch); delete the folder and generate it again"
            )
        else:
            report.facts.append(f"synthetic content hash verified: {synth['content_sha256']}")
    names = [c.filename for clips in report.dataset.splits.values() for c in clips]
    found = check_headers(report, root, names, headers, clip_seconds, progress)
    if found is None:
        return report
    report.dataset.sample_rate, report.dataset.clip_seconds = found
    return report


def _synthetic_info(root: Path) -> dict | None:
    path = root / "synthetic.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("generator") else None


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
    meta_rows = {normalise_name(r["filename"], audio_prefix=True): (line, r)
                 for line, r in meta.rows}  # fmt: skip
    notes: list[str] = []
    splits: dict[str, list[Clip]] = {}
    unknown_labels: list[str] = []
    not_in_meta: Counter[str] = Counter()
    disagree: list[str] = []
    years: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for part, table in tables.items():
        clips: list[Clip] = []
        for line, row in table.rows:
            fn = normalise_name(row["filename"], audio_prefix=True)
            if fn in seen:
                if seen[fn] != part:
                    duplicates.append(fn)
                continue
            seen[fn] = part
            parsed = parse_name(fn)
            if parsed is not None:
                years.setdefault(parsed.year, []).append(fn)
            m = meta_rows.get(fn, (0, {}))[1]
            if not m:
                not_in_meta[part] += 1
            label = row.get("scene_label") or m.get("scene_label") or (
                parsed.scene if parsed else "")
            if m.get("scene_label") and row.get("scene_label") and \
                    m["scene_label"] != row["scene_label"]:
                disagree.append(fn)
            if label not in SCENES:
                unknown_labels.append(f"{table.path.name}:{line} '{label}'")
                continue
            identifier = m.get("identifier") or (parsed.identifier if parsed else None)
            device = m.get("source_label") or (parsed.device if parsed else None)
            city = identifier.split("-", 1)[0] if identifier else None
            clips.append(Clip(filename=fn, scene_label=label, device=device, city=city,
                              identifier=identifier, parent=parent_of(fn, parsed)))  # fmt: skip
        splits[part] = clips
    if unknown_labels:
        report.errors.append(
            f"{len(unknown_labels)} rows have labels that are not DCASE scenes "
            f"({examples(unknown_labels)}); fix the CSVs (labels: {', '.join(SCENES)})"
        )
    if duplicates:
        report.errors.append(
            f"{len(duplicates)} files are listed in both the train and the test list "
            f"({examples(duplicates)}); check the split files"
        )
    if len(years) > 1:
        report.errors.append(
            f"{root}: mixed 10-s (2020) and 1-s (2022) file names ({len(years['2020'])} like "
            f"{years['2020'][0]}, {len(years['2022'])} like {years['2022'][0]}); keep the two "
            "sets in separate folders"
        )
    if not_in_meta:
        report.warnings.append(
            f"{sum(not_in_meta.values())} listed files are not in meta.csv ("
            + ", ".join(f"{p} {n}" for p, n in not_in_meta.items())
            + "); their device and location were taken from the file names"
        )
    if disagree:
        report.warnings.append(f"{len(disagree)} files have a different scene_label in meta.csv "
                               f"than in the split list ({examples(disagree)})")  # fmt: skip
    # files listed but not on disk
    listed = [c.filename for clips in splits.values() for c in clips]
    present = existing_files(root, listed)
    missing = {p: [c.filename for c in clips if c.filename not in present]
               for p, clips in splits.items()}  # fmt: skip
    n_missing = sum(map(len, missing.values()))
    if n_missing:
        where = ", ".join(f"{p} {len(m)}" for p, m in missing.items() if m)
        first = examples([f for m in missing.values() for f in m], 5)
        if skip_missing:
            notes.append(f"skipped {n_missing} listed files missing from {root / 'audio'} "
                         f"({where}): {first}")  # fmt: skip
            report.warnings.append(notes[-1])
            splits = {p: [c for c in clips if c.filename in present]
                      for p, clips in splits.items()}  # fmt: skip
        else:
            report.errors.append(
                f"{n_missing} of {len(listed)} listed files are missing from {root / 'audio'} "
                f"({where}; first: {first}); re-extract the audio archives, or pass "
                "--skip-missing (skip_missing=True) to leave them out and record them in the notes"
            )
    for part, clips in splits.items():
        if not clips and not report.errors:
            report.errors.append(f"{tables[part].path}: the {part} split has no usable clips; "
                                 "check the file and the audio folder")  # fmt: skip
    # leakage checks (warnings: the official split is clean)
    locs = {p: {c.identifier for c in clips if c.identifier} for p, clips in splits.items()}
    shared = locs.get("train", set()) & locs.get("test", set())
    if shared:
        report.warnings.append(f"{len(shared)} locations appear in both train and test "
                               f"({examples(sorted(shared))}); the split is not "
                               "location-disjoint")  # fmt: skip
    parents = {p: {c.parent for c in clips if c.parent} for p, clips in splits.items()}
    straddle = parents.get("train", set()) & parents.get("test", set())
    if straddle:
        report.warnings.append(f"{len(straddle)} 10-s recordings have 1-s clips in both train "
                               f"and test ({examples(sorted(straddle))})")  # fmt: skip
    if report.errors:
        return
    year = next(iter(years), None)
    if synth:
        name = f"synthetic-{synth.get('config', {}).get('style', 'tau')}"
        notes.append(f"synthetic data made by ascbench (generator version {synth.get('version')},"
                     f" seed {synth.get('config', {}).get('seed')}, content sha256 "
                     f"{str(synth.get('content_sha256', '?'))[:16]}); results on it are NOT "
                     "comparable with DCASE results on TAU data")  # fmt: skip
    else:
        name = f"tau{year}-mobile-dev" if year else f"tau-{root.name}"
    if split != "fold1":
        name += f"-{Path(split).stem}"
    counts = ", ".join(f"{p} {len(c)}" for p, c in splits.items())
    notes.append(f"clips used: {counts} (train list: {tables['train'].path.name}, test list: "
                 f"{tables['test'].path.name})")  # fmt: skip
    content = synth.get("content_sha256") if synth else None
    report.dataset = Dataset(name=name, root=root, sample_rate=44100,
                             clip_seconds=1.0 if year == "2022" else 10.0, splits=splits,
                             notes=notes, content_hash=content)  # fmt: skip


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
