"""Checking an entry's numbers against the files it was computed from.

An entry's ``entry_hash`` shows that the entry was not changed after it was written, but anyone
can edit an entry and hash it again. What ties the numbers to the evaluation are two files the
run writes beside the entry and names, with their SHA-256, in ``artifacts``:

- ``predictions``: the per-clip class probabilities (DCASE output format);
- ``truth``: the test clips' labels and devices, as the dataset gave them.

:func:`verify_entry` recomputes accuracy, log loss and every class-wise and device-wise score
from the two files with ascbench's own metrics and compares them with the entry. A forged
score therefore needs forged predictions too; forged labels are caught by
:func:`check_shared_truth`, because every entry evaluated on one dataset (same name and
fingerprint) must carry the same labels file. What this does not protect against: a
publisher who forges predictions, labels and every entry of a dataset consistently; signing
the published board with a key the publisher holds is what ties it to a person.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ascbench.leaderboard.entry import LeaderboardEntry
from ascbench.scenes import SCENES

#: Tolerances of the recomputed scores: the predictions file stores 10 significant digits.
ACCURACY_TOLERANCE = 1e-6  # percent points
LOG_LOSS_TOLERANCE = 1e-6


def truth_csv_text(filenames: Iterable[str], labels: Iterable[int], devices: Iterable[str]) -> str:
    """The labels file of a test split: ``filename``, ``scene_label``, ``device`` (tabs)."""
    lines = ["filename\tscene_label\tdevice"]
    for name, label, device in zip(filenames, labels, devices, strict=True):
        lines.append(f"{name}\t{SCENES[int(label)]}\t{device or ''}")
    return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _artifact(entry: LeaderboardEntry, folder: Path, name: str, problems: list[str]) -> Path | None:
    ref = entry.artifacts.get(name)
    if ref is None:
        return None
    path = folder / ref.path
    if not path.is_file():
        return None
    if _sha256(path) != ref.sha256:
        problems.append(
            f"{entry.label()}: {path} does not match the SHA-256 its entry records; the file "
            "was changed after the run (restore it or re-run)"
        )
        return None
    return path


def _read_truth(path: Path) -> tuple[list[str], np.ndarray, list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    names = [r["filename"] for r in rows]
    labels = np.array([SCENES.index(r["scene_label"]) for r in rows], dtype=np.int64)
    return names, labels, [r.get("device") or "" for r in rows]


def _differences(entry: LeaderboardEntry, scores) -> list[str]:
    """Which of the entry's metrics differ from ``scores`` (an EvaluationResult)."""
    m = entry.metrics
    found = []
    pairs = [("accuracy", m.accuracy, scores.accuracy, ACCURACY_TOLERANCE),
             ("log_loss", m.log_loss, scores.log_loss, LOG_LOSS_TOLERANCE)]  # fmt: skip
    for table, recomputed in (("class_wise", scores.class_wise),
                              ("device_wise", scores.device_wise)):  # fmt: skip
        for key, score in getattr(m, table).items():
            again = recomputed.get(key, {})
            pairs.append((f"{table}.{key}.accuracy", score.accuracy, again.get("accuracy"),
                          ACCURACY_TOLERANCE))  # fmt: skip
            pairs.append((f"{table}.{key}.log_loss", score.log_loss, again.get("log_loss"),
                          LOG_LOSS_TOLERANCE))  # fmt: skip
    for name, stated, actual, tol in pairs:
        if actual is None or not math.isclose(stated, actual, rel_tol=1e-9, abs_tol=tol):
            found.append(f"{name} {stated:.6g} (recomputed: "
                         f"{'missing' if actual is None else f'{actual:.6g}'})")  # fmt: skip
    return found


def verify_entry(entry: LeaderboardEntry, folder: Path) -> tuple[bool, list[str]]:
    """``(verified, problems)`` for ``entry``, whose files are in ``folder``: verified when
    its predictions and labels files are there, unchanged, and give its metrics again."""
    from ascbench.evaluation.evaluate import Predictions, score_predictions
    from ascbench.submission import SubmissionError, read_output_csv

    problems: list[str] = []
    predictions = _artifact(entry, folder, "predictions", problems)
    truth = _artifact(entry, folder, "truth", problems)
    if problems or predictions is None or truth is None or entry.metrics is None:
        return False, problems
    try:
        names, probs = read_output_csv(predictions)
        truth_names, labels, devices = _read_truth(truth)
    except (SubmissionError, KeyError, ValueError, OSError) as exc:
        return False, [f"{entry.label()}: cannot read its predictions or labels ({exc})"]
    if names != truth_names:
        return False, [f"{entry.label()}: its predictions and labels list different clips"]
    scores = score_predictions(Predictions(names, probs, labels, devices))
    wrong = _differences(entry, scores)
    if wrong:
        return False, [
            f"{entry.label()}: {'; '.join(wrong[:3])}"
            + (f" and {len(wrong) - 3} more" if len(wrong) > 3 else "")
            + f" do not match its predictions ({predictions.name}); the entry was edited "
            "after the run: restore it or re-run"
        ]
    return True, []


def check_shared_truth(entries: Iterable[tuple[LeaderboardEntry, bool]]) -> list[str]:
    """Every verified entry on one dataset (name and fingerprint) must carry the same labels
    file; one that does not was evaluated against other labels."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    problems = []
    for entry, verified in entries:
        ref = entry.artifacts.get("truth")
        if not verified or ref is None:
            continue
        data = entry.provenance.dataset
        key = (data.name, data.fingerprint)
        first = seen.setdefault(key, (ref.sha256, entry.label()))
        if first[0] != ref.sha256:
            problems.append(
                f"{entry.label()}: its test labels differ from those of {first[1]} on the same "
                f"dataset ({data.name} {data.fingerprint}); one of them was evaluated against "
                "other labels"
            )
    return problems


def find_evidence(entry: LeaderboardEntry, inputs: Iterable[str | Path]) -> Path | None:
    """The folder holding ``entry``'s predictions among ``inputs``: ``<dir>/<rule set>/
    <system>/`` of a results or published directory, or beside an entry or board file."""
    ref = entry.artifacts.get("predictions")
    if ref is None:
        return None
    for item in inputs:
        item = Path(item)
        base = item if item.is_dir() else item.parent
        for folder in (base / entry.ruleset.name / entry.system.name, base):
            if (folder / ref.path).is_file():
                return folder
    return None


def verify_all(
    entries: Iterable[LeaderboardEntry], locate: Callable[[LeaderboardEntry], Path | None]
) -> tuple[dict[tuple, Path], list[str], list[str]]:
    """``(folder by entry key of the verified, labels of the unverifiable, problems)``;
    ``locate`` gives the folder of an entry's predictions and labels, or None."""
    verified, unverified, problems, checked = {}, [], [], []
    for entry in entries:
        folder = locate(entry)
        ok, found = verify_entry(entry, folder) if folder is not None else (False, [])
        problems += found
        checked.append((entry, ok))
        if ok:
            verified[entry.key] = folder
        elif not found:
            unverified.append(entry.label())
    return verified, unverified, problems + check_shared_truth(checked)


def evidence_files(
    entries: Iterable[LeaderboardEntry], verified: dict[tuple, Path], out: Path
) -> dict[Path, bytes]:
    """The predictions and labels of every verified entry, as they go to
    ``<out>/<rule set>/<system>/`` (a published board or a merged store) so that what is
    written there can be verified again."""
    files = {}
    for entry in entries:
        folder = verified.get(entry.key)
        for name in ("predictions", "truth") if folder is not None else ():
            ref = entry.artifacts[name]
            target = out / entry.ruleset.name / entry.system.name / ref.path
            files[target] = (folder / ref.path).read_bytes()
    return files
