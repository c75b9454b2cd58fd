"""A plain folder of audio files plus a labels CSV, for small real data sets.

The CSV has a header row with at least ``filename`` and ``scene_label``; optional columns are
``device``, ``split`` (``train`` or ``test``; ``evaluate``/``eval``/``val`` count as test),
``city`` and ``identifier`` (recording location, e.g. ``london-205``; also read from
``location_id`` or ``location``); other columns are ignored. It may be comma-
or tab-separated. File names are relative to the CSV's folder.

Split without a ``split`` column: deterministic and independent of row order. Clips are grouped
by recording location (the ``identifier`` column, else the location parsed from a TAU-style file
name, else each file is its own group); within each scene the groups are ordered by a SHA-256
hash of the group key and the first ``round(0.3 * groups)`` (at least one when a scene has two
or more groups) go to test. Groups never straddle the split, so clips of a known location are
location-disjoint; clips without a known location are split file by file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from ascbench.data import checks
from ascbench.data.base import Clip, Dataset
from ascbench.data.checks import DataReport, HeaderMode, Table
from ascbench.data.tau import parent_of, parse_name
from ascbench.errors import DatasetError
from ascbench.scenes import SCENES

#: File names tried when a folder (not a CSV file) is given.
LABEL_FILES: tuple[str, ...] = ("labels.csv", "labels.tsv")
TEST_FRACTION = 0.3
_SPLIT_VALUES = {
    "train": "train",
    "training": "train",
    "test": "test",
    "evaluate": "test",
    "evaluation": "test",
    "eval": "test",
    "val": "test",
    "validation": "test",
}


def find_labels(path: Path) -> Path | None:
    """The labels CSV of a folder, or None."""
    for name in LABEL_FILES:
        if (path / name).is_file():
            return path / name
    return None


def _split_key(clip: Clip) -> str:
    return clip.identifier or clip.filename


def assign_splits(clips: list[Clip], test_fraction: float = TEST_FRACTION) -> dict[str, str]:
    """Deterministic train/test assignment by location group (see the module docstring).
    Returns ``{filename: 'train' | 'test'}``."""
    groups_by_scene: dict[str, set[str]] = {}
    for clip in clips:
        groups_by_scene.setdefault(clip.scene_label or "", set()).add(_split_key(clip))
    test_groups: set[str] = set()
    for groups in groups_by_scene.values():
        order = sorted(groups, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
        n_test = round(len(order) * test_fraction)
        if len(order) >= 2:
            n_test = min(max(n_test, 1), len(order) - 1)
        else:
            n_test = 0
        test_groups.update(order[:n_test])
    return {c.filename: "test" if _split_key(c) in test_groups else "train" for c in clips}


def scan_folder(
    path: str | Path,
    *,
    skip_missing: bool = False,
    skip_unknown_labels: bool = False,
    headers: HeaderMode = "sample",
    clip_seconds: float | None = None,
    progress: bool = False,
    evaluation_only: bool = False,
) -> DataReport:
    """Check a labels CSV (or a folder holding ``labels.csv``) and build its Dataset. With
    ``evaluation_only`` (released weights, nothing to train) the training split may be empty,
    and without a split column every clip is a test clip."""
    path = Path(path).expanduser().absolute()
    report = DataReport(path=path, layout="folder")
    csv_path = _labels_csv(report, path)
    if csv_path is None:
        return report
    root = csv_path.parent
    report.root = root
    try:
        table = checks.read_table(csv_path, ["filename", "scene_label"], what="labels CSV")
    except DatasetError as exc:
        report.errors.append(str(exc))
        return report
    report.facts.append(_layout_fact(csv_path, table))
    rows = _read_rows(table, csv_path, root)
    _report_row_problems(report, csv_path, rows, skip_unknown_labels)
    notes: list[str] = []
    clips = _drop_missing(report, csv_path, rows.clips, skip_missing, notes)
    splits = _split_clips(report, csv_path, clips, rows.split_of, notes, evaluation_only)
    if report.errors:
        return report
    notes.append("clips used: " + ", ".join(f"{p} {len(c)}" for p, c in splits.items()))
    report.dataset = Dataset(
        name="folder", root=root, sample_rate=44100, clip_seconds=0.0, splits=splits, notes=notes
    )
    found = checks.check_headers(
        report, root, [c.filename for c in clips], headers, clip_seconds, progress
    )
    if found is not None:
        report.dataset.sample_rate, report.dataset.clip_seconds = found
    return report


def _labels_csv(report: DataReport, path: Path) -> Path | None:
    """The labels CSV that ``path`` names or holds; records an error and returns None if none."""
    csv_path = path if path.is_file() else find_labels(path) if path.is_dir() else None
    if csv_path is None:
        report.errors.append(
            f"{path}: no labels CSV; a plain audio folder needs {LABEL_FILES[0]} with columns "
            "filename, scene_label (optional: device, split)"
            if path.is_dir()
            else f"{path}: no such file or folder"
        )
    return csv_path


def _layout_fact(csv_path: Path, table: Table) -> str:
    delimiter = "tab" if table.delimiter == chr(9) else repr(table.delimiter)
    return (
        f"layout: plain folder with labels CSV {csv_path} ({len(table.rows)} rows, "
        f"{delimiter}-separated, columns {', '.join(table.columns)})"
    )


@dataclass
class _LabelRows:
    """The rows of a labels CSV: the clips they list and what is wrong with the others."""

    clips: list[Clip] = field(default_factory=list)
    #: filename -> 'train' | 'test', from the split column (None without one)
    split_of: dict[str, str] | None = None
    unknown: list[str] = field(default_factory=list)  #: rows whose label is not a DCASE scene
    bad_rows: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  #: files listed again


def _read_rows(table: Table, csv_path: Path, root: Path) -> _LabelRows:
    """One clip per row, the first row of a file only; the split column read when present."""
    rows = _LabelRows(split_of={} if "split" in table.columns else None)
    seen: set[str] = set()
    for line, row in table.rows:
        fn = checks.normalise_name(row["filename"])
        where = f"{csv_path.name}:{line}"
        problem = _filename_problem(fn, root)
        if problem:
            rows.bad_rows.append(f"{where}: {problem}")
            continue
        if fn in seen:
            rows.duplicates.append(fn)
            continue
        seen.add(fn)
        label = row["scene_label"]
        if label not in SCENES:
            rows.unknown.append(f"{where} '{label}'")
            continue
        clip = _clip(fn, label, row)
        if rows.split_of is not None:
            value = row["split"].strip().lower()
            if value not in _SPLIT_VALUES:
                rows.bad_rows.append(f"{where}: split '{row['split']}' is not train or test")
                continue
            rows.split_of[fn] = _SPLIT_VALUES[value]
        rows.clips.append(clip)
    return rows


def _filename_problem(fn: str, root: Path) -> str | None:
    """What is wrong with a listed file name, or None."""
    return checks.listed_name_problem(fn, root)


def _clip(fn: str, label: str, row: dict[str, str]) -> Clip:
    """The clip of a row; location and device fall back to a TAU-style file name's fields."""
    parsed = parse_name(fn)
    identifier = (
        row.get("identifier")
        or row.get("location_id")
        or row.get("location")
        or (parsed.identifier if parsed else None)
    )
    city = row.get("city") or (identifier.split("-", 1)[0] if identifier else None)
    device = row.get("device") or (parsed.device if parsed else None)
    return Clip(
        filename=fn,
        scene_label=label,
        device=device or None,
        city=city or None,
        identifier=identifier or None,
        parent=parent_of(fn),
    )


def _report_row_problems(
    report: DataReport, csv_path: Path, rows: _LabelRows, skip_unknown_labels: bool
) -> None:
    if rows.bad_rows:
        report.errors.append(
            f"{len(rows.bad_rows)} bad rows in {csv_path}; first: {rows.bad_rows[0]}"
        )
    if rows.duplicates:
        report.warnings.append(
            f"{len(rows.duplicates)} files are listed more than once in "
            f"{csv_path.name} ({checks.examples(rows.duplicates)}); the first row is "
            "used"
        )
    if rows.unknown:
        msg = (
            f"{len(rows.unknown)} rows of {csv_path} have labels that are not DCASE scenes "
            f"({checks.examples(rows.unknown)})"
        )
        if skip_unknown_labels:
            report.warnings.append(msg + "; they were left out")
        else:
            report.errors.append(
                msg + f"; remove those rows, or pass --skip-unknown-labels "
                f"(labels: {', '.join(SCENES)})"
            )


def _drop_missing(
    report: DataReport, csv_path: Path, clips: list[Clip], skip_missing: bool, notes: list[str]
) -> list[Clip]:
    """The clips whose files exist; missing files are an error, or skipped and noted."""
    root = csv_path.parent
    present = checks.existing_files(root, [c.filename for c in clips])
    missing = [c.filename for c in clips if c.filename not in present]
    if not missing:
        return clips
    if skip_missing:
        notes.append(
            f"skipped {len(missing)} listed files missing from {root}: "
            f"{checks.examples(missing, 5)}"
        )
        report.warnings.append(notes[-1])
        return [c for c in clips if c.filename in present]
    report.errors.append(
        f"{len(missing)} of {len(clips)} files listed in {csv_path} are missing (first: "
        f"{checks.examples(missing, 5)}); fix the paths (relative to {root}), or pass "
        "--skip-missing (skip_missing=True) to leave them out and record them in the notes"
    )
    return clips


def _split_clips(
    report: DataReport,
    csv_path: Path,
    clips: list[Clip],
    split_of: dict[str, str] | None,
    notes: list[str],
    evaluation_only: bool = False,
) -> dict[str, list[Clip]]:
    """The train and test clips, by the split column or else :func:`assign_splits` (or, for
    an evaluation only, every clip in the test split)."""
    if split_of is None and evaluation_only:
        split_of = {c.filename: "test" for c in clips}
        notes.append("no split column: evaluation only (released weights), every clip is tested")
    elif split_of is None:
        split_of = assign_splits(clips)
        notes.append(
            f"no split column: deterministic {1 - TEST_FRACTION:.0%}/"
            f"{TEST_FRACTION:.0%} split per scene by hashed location (or file name "
            "when the location is unknown)"
        )
    splits = {p: [c for c in clips if split_of.get(c.filename) == p] for p in ("train", "test")}
    for part, part_clips in splits.items():
        if part == "train" and evaluation_only:
            continue  # nothing is trained
        if not part_clips and not report.errors:
            report.errors.append(
                f"{csv_path}: the {part} split is empty; add a split column or more clips per "
                "scene (a scene needs two locations or files to appear in both splits)"
                + ("; to evaluate released weights, pass --weights (data check: "
                   "--evaluation-only)" if part == "train" else "")
            )
    return splits


def load_folder(
    path: str | Path,
    *,
    skip_missing: bool = False,
    skip_unknown_labels: bool = False,
    clip_seconds: float | None = None,
) -> Dataset:
    """Load a labels CSV / labelled folder (see the module docstring); raises
    :class:`DatasetError` with a one-line message for the first problem found."""
    return scan_folder(path, skip_missing=skip_missing, skip_unknown_labels=skip_unknown_labels,
                       clip_seconds=clip_seconds).raise_for_errors()  # fmt: skip
