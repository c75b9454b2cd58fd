"""DCASE submission files, filled from *measured* values.

- :func:`write_output_csv`: the system output ``<label>.output.csv``: tab-separated, header
  ``filename scene_label airport … tram``, one row per clip with the basename of its file, the
  predicted label (argmax) and the ten probabilities. The same format, with dataset-relative
  file names, is the per-clip predictions file a run stores beside its entry
  (``<results>/<ruleset>/<system>/seed<k>.predictions.csv``).
- :func:`write_meta_yaml`: ``<label>.meta.yaml`` whose ``system.complexity`` block comes from
  the entry's measured complexity (2021: total_parameters, total_parameters_non_zero,
  model_size in KB as the rule set defines KB; 2022: total_parameters,
  total_parameters_non_zero, memory_use in bytes, macs) and whose
  ``results.development_dataset`` block comes from the entry's measured metrics.
- :func:`check_output_text` and :func:`check_meta` repeat the checks of the official DCASE
  submission validators, so problems show up before submitting.

Sources: ``/work/shared/notes/dcase-rules.md`` §7 and the toni-heittola
dcase2021/2022 task-1 submission validators.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from ascbench.errors import AscbenchError, describe_problem
from ascbench.leaderboard._io import atomic_write_bytes, atomic_write_text, read_text
from ascbench.leaderboard.entry import LeaderboardEntry, RuleSetInfo
from ascbench.rules import RuleSet
from ascbench.scenes import DEVICES, SCENES


class SubmissionError(AscbenchError):
    """A submission file cannot be made from the given entry, predictions or label."""


# -- formats per year ---------------------------------------------------------------------------

_DESCRIPTION_2021 = (
    "input_sampling_rate",
    "acoustic_features",
    "embeddings",
    "data_augmentation",
    "machine_learning_method",
    "ensemble_method_subsystem_count",
    "decision_making",
    "external_data_usage",
)


@dataclass(frozen=True)
class SubmissionFormat:
    """What one year's task-1 submission looks like."""

    year: int
    task: str  #: the third part of the label: 'task1a' (2021) or 'task1' (2022)
    eval_files: int  #: evaluation-set clips, named 0.wav … (eval_files - 1).wav
    description_fields: tuple[str, ...]  #: required keys of system.description
    complexity_fields: tuple[str, ...]  #: keys of system.complexity ascbench fills


FORMATS: dict[str, SubmissionFormat] = {
    "dcase2021": SubmissionFormat(
        year=2021,
        task="task1a",
        eval_files=7920,
        description_fields=_DESCRIPTION_2021,
        complexity_fields=("total_parameters", "total_parameters_non_zero", "model_size"),
    ),
    "dcase2022": SubmissionFormat(
        year=2022,
        task="task1",
        eval_files=118800,
        description_fields=(*_DESCRIPTION_2021, "complexity_management", "pipeline", "framework"),
        complexity_fields=("total_parameters", "total_parameters_non_zero", "memory_use", "macs"),
    ),
}


def submission_format(ruleset: str) -> SubmissionFormat:
    """The submission format of a rule set, with a one-line error for unsupported ones."""
    if ruleset not in FORMATS:
        raise SubmissionError(
            f"no DCASE submission format is known for rule set '{ruleset}'; supported: "
            f"{', '.join(FORMATS)}"
        )
    return FORMATS[ruleset]


def validate_label(label: str, ruleset: str) -> str:
    """Check ``Lastname_Institute_task1a_N`` (2021) / ``Lastname_Institute_task1_N`` (2022)."""
    fmt = submission_format(ruleset)
    grammar = f"Lastname_Institute_{fmt.task}_N with N in 1-4"
    parts = label.split("_")
    if len(parts) != 4:
        raise SubmissionError(
            f"label '{label}' has {len(parts)} '_'-separated parts, not 4; use {grammar}"
        )
    name_part = re.compile(r"[^\W_](?:[^\W_]|-)*")
    for what, part in (("Lastname", parts[0]), ("Institute", parts[1])):
        if not name_part.fullmatch(part):
            raise SubmissionError(
                f"label '{label}': {what} part '{part}' must be letters/digits (and '-'); "
                f"use {grammar}"
            )
    if parts[2] != fmt.task:
        raise SubmissionError(
            f"label '{label}': task part is '{parts[2]}' but {ruleset} needs '{fmt.task}'; "
            f"use {grammar}"
        )
    if parts[3] not in {"1", "2", "3", "4"}:
        raise SubmissionError(
            f"label '{label}': system index '{parts[3]}' must be 1, 2, 3 or 4; use {grammar}"
        )
    return label


# -- system output CSV --------------------------------------------------------------------------


def output_header(scenes: Sequence[str] = SCENES) -> list[str]:
    """``filename``, ``scene_label`` and one column per scene, in ``scenes`` order."""
    return ["filename", "scene_label", *scenes]


def basename(filename: str) -> str:
    """The file name without directories (``/`` or ``\\`` separated)."""
    return PurePosixPath(str(filename).replace("\\", "/")).name


def format_probability(value: float) -> str:
    """A probability with 10 significant digits (plenty for float32 softmax outputs)."""
    return format(float(value), ".10g")


def _check_probabilities(
    probabilities: Any, n_rows: int, scenes: Sequence[str], where: str
) -> np.ndarray:
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != (n_rows, len(scenes)):
        raise SubmissionError(
            f"{where}: probabilities have shape {tuple(probs.shape)}, expected "
            f"({n_rows}, {len(scenes)}) for {n_rows} files and {len(scenes)} scenes"
        )
    if not np.isfinite(probs).all():
        raise SubmissionError(f"{where}: probabilities contain NaN or infinity")
    if (probs < -1e-6).any() or (probs > 1 + 1e-6).any():
        raise SubmissionError(
            f"{where}: probabilities outside [0, 1]; pass softmax probabilities, not logits"
        )
    if n_rows:
        worst = float(np.abs(probs.sum(axis=1) - 1.0).max())
        if worst > 1e-3:
            raise SubmissionError(
                f"{where}: a row of probabilities sums to {1 + worst:.4g} instead of 1; pass "
                "softmax probabilities, not logits"
            )
    return np.clip(probs, 0.0, 1.0)


def output_csv_text(
    filenames: Sequence[str],
    probabilities: Any,
    scenes: Sequence[str] = SCENES,
    *,
    keep_paths: bool = False,
    where: str = "output",
) -> str:
    """The output CSV as text; see :func:`write_output_csv`."""
    names = [str(f) if keep_paths else basename(f) for f in filenames]
    probs = _check_probabilities(probabilities, len(names), scenes, where)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name or any(c in name for c in "\t\r\n"):
            raise SubmissionError(
                f"{where}: file name {name!r} (row {i + 1}) is empty or contains a tab or newline"
            )
        key = name if keep_paths else basename(name)  # kept paths: unique as paths
        if key in seen:
            raise SubmissionError(
                f"{where}: file {key!r} appears twice (rows {seen[key] + 1} and {i + 1}); "
                "the validator requires unique file names"
            )
        seen[key] = i
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(output_header(scenes))
    predicted = probs.argmax(axis=1) if len(names) else []
    for name, row, k in zip(names, probs, predicted, strict=True):
        writer.writerow([name, scenes[int(k)], *(format_probability(p) for p in row)])
    return out.getvalue()


def write_output_csv(
    path: str | Path,
    filenames: Sequence[str],
    probabilities: Any,
    scenes: Sequence[str] = SCENES,
    *,
    keep_paths: bool = False,
) -> Path:
    """Write the DCASE system output CSV atomically.

    ``probabilities`` is (clips, scenes) in ``scenes`` order; the predicted label is the argmax
    (first on ties). File names are reduced to their basename unless ``keep_paths`` (used for
    the predictions file a run stores, which keeps dataset-relative paths).
    """
    text = output_csv_text(filenames, probabilities, scenes, keep_paths=keep_paths, where=str(path))
    return atomic_write_text(path, text)


def read_output_csv(
    path: str | Path, scenes: Sequence[str] = SCENES
) -> tuple[list[str], np.ndarray]:
    """Read an output/predictions CSV: (file names, probabilities in ``scenes`` order)."""
    path = Path(path)
    text = read_text(path, SubmissionError, "predictions file")
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    header = next(reader, None)
    if not header or "filename" not in header:
        raise SubmissionError(
            f"{path}: no tab-separated header with 'filename' (expected "
            f"{' '.join(output_header(scenes))})"
        )
    missing = [c for c in output_header(scenes) if c not in header]
    if missing:
        raise SubmissionError(f"{path}: header lacks the columns {', '.join(missing)}")
    columns = [header.index(s) for s in scenes]
    name_col = header.index("filename")
    names: list[str] = []
    rows: list[list[float]] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise SubmissionError(
                f"{path}:{line_no}: {len(row)} fields, expected {len(header)} (tab-separated)"
            )
        try:
            rows.append([float(row[c]) for c in columns])
        except ValueError as exc:
            raise SubmissionError(
                f"{path}:{line_no}: a probability is not a number ({exc})"
            ) from exc
        names.append(row[name_col])
    probs = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(scenes))
    _check_probabilities(probs, len(names), scenes, str(path))
    return names, probs


def eval_index(name: str) -> int | None:
    """The index ``n`` of an evaluation-set file name ``<n>.wav`` (after basename), else None."""
    match = re.fullmatch(r"(0|[1-9][0-9]*)\.wav", basename(name))
    return int(match.group(1)) if match else None


def check_eval_names(names: Sequence[str], ruleset: str) -> None:
    """Require exactly the evaluation-set files ``0.wav`` … of the rule set's year."""
    fmt = submission_format(ruleset)
    indices = [eval_index(n) for n in names]
    bad = next((n for n, i in zip(names, indices, strict=True) if i is None), None)
    if bad is not None:
        raise SubmissionError(
            f"'{bad}' is not an evaluation-set file name (<n>.wav); predict on the "
            f"{fmt.year} evaluation set or leave out --eval-set"
        )
    out_of_range = [i for i in indices if i is not None and i >= fmt.eval_files]
    if out_of_range or len(set(indices)) != fmt.eval_files:
        raise SubmissionError(
            f"predictions cover {len(set(indices))} evaluation files, the {fmt.year} "
            f"evaluation set has {fmt.eval_files} (0.wav … {fmt.eval_files - 1}.wav)"
        )


def check_output_text(
    text: str, scenes: Sequence[str] = SCENES, *, eval_files: int | None = None
) -> list[str]:
    """The problems the official validator would report for an output CSV (empty = valid).

    Without ``eval_files`` the evaluation-set checks (integer names, index range, row count)
    are skipped, so development-set output can be checked too.
    """
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text), delimiter="\t")
    header = next(reader, [])
    fields = output_header(scenes)
    if "filename" not in header:
        problems.append("no header row with 'filename'")
    if set(header) != set(fields) or len(header) != len(fields):
        problems.append(f"header fields are {header}, expected {fields}")
    if "filename" not in header:
        return problems
    name_col = header.index("filename")
    label_col = header.index("scene_label") if "scene_label" in header else None
    seen: set[str] = set()
    for row_no, row in enumerate(reader, start=1):
        if len(row) != len(fields):
            problems.append(f"row {row_no}: {len(row)} fields, expected {len(fields)}")
            continue
        name = basename(row[name_col])
        if name in seen:
            problems.append(f"row {row_no}: duplicate file {name}")
        seen.add(name)
        if not name.endswith(".wav"):
            problems.append(f"row {row_no}: file {name} does not end in .wav")
        if eval_files is not None:
            index = eval_index(name)
            if index is None or index >= eval_files:
                problems.append(f"row {row_no}: {name} is not one of 0.wav … {eval_files - 1}.wav")
        if label_col is not None and row[label_col] not in scenes:
            problems.append(f"row {row_no}: unknown scene label {row[label_col]!r}")
        for scene in scenes:
            if scene in header:
                try:
                    float(row[header.index(scene)])
                except ValueError:
                    problems.append(
                        f"row {row_no}: {scene} value {row[header.index(scene)]!r} is not a number"
                    )
    if eval_files is not None and len(seen) != eval_files:
        problems.append(f"{len(seen)} unique files, expected {eval_files}")
    return problems


# -- meta.yaml ----------------------------------------------------------------------------------


class Author(BaseModel):
    """One author of the submission (the DCASE template's fields; extra ones are kept)."""

    model_config = ConfigDict(extra="allow")

    lastname: str | None = None
    firstname: str | None = None
    email: str | None = None
    affiliation: dict[str, JsonValue] | str | None = None
    corresponding: bool = False


class ExternalDataset(BaseModel):
    """An external dataset the system used."""

    model_config = ConfigDict(extra="allow")

    name: str
    url: str
    total_audio_length: JsonValue


class SubmissionInfo(BaseModel):
    """What a person has to state about a submission: names, authors, system description.

    Read from a meta.yaml-shaped file (``submission`` and ``system`` blocks; measured blocks
    such as ``system.complexity`` and ``results`` are ignored and regenerated).
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    abbreviation: str | None = Field(None, max_length=10)
    authors: list[Author] = Field(default_factory=list)
    description: dict[str, JsonValue] = Field(default_factory=dict)
    external_datasets: list[ExternalDataset] = Field(default_factory=list)
    source_code: str = ""

    @field_validator("authors")
    @classmethod
    def _one_corresponding(cls, authors: list[Author]) -> list[Author]:
        if authors and sum(a.corresponding for a in authors) != 1:
            raise ValueError("exactly one author must have corresponding: true")
        return authors

    @classmethod
    def from_meta(cls, data: Any, source: str) -> SubmissionInfo:
        """Take the human-written parts of a meta.yaml mapping."""
        if not isinstance(data, dict):
            raise SubmissionError(f"{source}: expected a meta.yaml mapping at the top level")
        sub = data.get("submission") or {}
        system = data.get("system") or {}
        if not isinstance(sub, dict) or not isinstance(system, dict):
            raise SubmissionError(f"{source}: 'submission' and 'system' must be mappings")
        try:
            return cls(
                name=sub.get("name"),
                abbreviation=sub.get("abbreviation"),
                authors=sub.get("authors") or [],
                description=system.get("description") or {},
                external_datasets=system.get("external_datasets") or [],
                source_code=system.get("source_code") or "",
            )
        except ValidationError as exc:
            raise SubmissionError(
                f"{source}: invalid submission information {describe_problem(exc)}"
            ) from exc


def load_submission_info(path: str | Path) -> SubmissionInfo:
    """Read a meta.yaml-shaped YAML file of submission information."""
    import yaml

    path = Path(path)
    text = read_text(path, SubmissionError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SubmissionError(f"{path}: not valid YAML: {first}") from exc
    return SubmissionInfo.from_meta(data or {}, str(path))


def _ruleset_info(entry: LeaderboardEntry, ruleset: RuleSet | RuleSetInfo | None) -> RuleSetInfo:
    if ruleset is None:
        return entry.ruleset
    info = ruleset if isinstance(ruleset, RuleSetInfo) else RuleSetInfo.from_ruleset(ruleset)
    if info.name != entry.ruleset.name:
        raise SubmissionError(
            f"{entry.label()} was measured under '{entry.ruleset.name}', not '{info.name}'; "
            f"use an entry of {info.name}"
        )

    def essentials(r: RuleSetInfo) -> tuple:
        return (r.kilobyte, [(lim.quantity, lim.maximum, lim.inclusive) for lim in r.limits])

    if essentials(info) != essentials(entry.ruleset):
        raise SubmissionError(
            f"{entry.label()} was measured under a different definition of '{info.name}' "
            "(limits or units differ); re-run the system under the current rule set"
        )
    return info


def measured_complexity(entry: LeaderboardEntry, ruleset: RuleSetInfo) -> dict[str, Any]:
    """The ``system.complexity`` block of the rule set's year, from the measured values."""
    fmt = submission_format(ruleset.name)
    c = entry.complexity
    if c is None:
        raise SubmissionError(f"{entry.label()}: the entry has no measured complexity")
    values: dict[str, Any] = {
        "total_parameters": int(c.parameters),
        "total_parameters_non_zero": int(c.nonzero_parameters),
        "model_size": round(c.bytes / ruleset.kilobyte, 3),
        "memory_use": int(c.bytes),
        "macs": int(c.macs),
    }
    return {k: values[k] for k in fmt.complexity_fields}


def _scores(metrics: Any) -> dict[str, Any]:
    return {"accuracy": float(metrics.accuracy), "logloss": float(metrics.log_loss)}


def development_results(entry: LeaderboardEntry) -> dict[str, Any]:
    """``results.development_dataset`` from the measured metrics (accuracy in percent)."""
    m = entry.metrics
    if m is None:
        raise SubmissionError(f"{entry.label()}: the entry has no metrics")
    return {
        "overall": _scores(m),
        "class_wise": {s: _scores(m.class_wise[s]) for s in SCENES if s in m.class_wise},
        "device_wise": {d: _scores(m.device_wise[d]) for d in DEVICES if d in m.device_wise},
    }


def abbreviation_parts(name: str) -> list[str]:
    """The words and numbers of a system name: 'cao2021_sys1' -> ['cao', '2021', 'sys', '1']."""
    return re.findall(r"[A-Za-z]+|[0-9]+", name)


def abbreviate(name: str, limit: int = 10) -> str:
    """A system's abbreviation of at most ``limit`` characters (the meta's field): the name
    itself when it fits, else its words cut to three letters (the first to one, capitalised)
    and a year to its last two digits, e.g. 'dcase2022_baseline' -> 'D22Bas',
    'verbitskiy2021_mbconv_mel32' -> 'V21MbcMel3' (never a name cut mid-way to 'dcase2022_')."""
    if len(name) <= limit:
        return name
    out = []
    for i, part in enumerate(abbreviation_parts(name)):
        if part.isdigit():
            out.append(part[-2:] if len(part) == 4 and part.startswith("20") else part)
        else:
            out.append(part[:1].upper() if i == 0 else part[:3].capitalize())
    return "".join(out)[:limit] or name[:limit]


def default_info(label: str, entry: LeaderboardEntry, fmt: SubmissionFormat) -> SubmissionInfo:
    """Submission information derived from the label and entry; null = fill in by hand."""
    lastname, institute = label.split("_")[:2]
    known: dict[str, JsonValue] = {
        "framework": f"PyTorch {entry.provenance.torch_version}",
        "complexity_management": ", ".join(s.name for s in entry.stages) or None,
    }
    return SubmissionInfo(
        name=entry.system.title,
        abbreviation=abbreviate(entry.system.name),
        authors=[
            Author(
                lastname=lastname,
                affiliation={"abbreviation": institute, "institute": None, "location": None},
                corresponding=True,
            )
        ],
        description={k: known.get(k) for k in fmt.description_fields},
    )


def build_meta(
    label: str,
    entry: LeaderboardEntry,
    ruleset: RuleSet | RuleSetInfo | None = None,
    info: SubmissionInfo | None = None,
    *,
    allow_noncompliant: bool = False,
) -> dict[str, Any]:
    """The meta.yaml content: human-stated parts from ``info`` (or defaults), measured parts
    from ``entry``. Failed entries, and noncompliant ones unless allowed, are refused."""
    rs = _ruleset_info(entry, ruleset)
    fmt = submission_format(rs.name)
    validate_label(label, rs.name)
    if entry.status == "failed":
        raise SubmissionError(f"{entry.label()} failed ({entry.reason}); nothing to submit")
    if entry.status == "noncompliant" and not allow_noncompliant:
        detail = entry.compliance.describe_failures() if entry.compliance else entry.reason
        raise SubmissionError(
            f"{entry.label()} is noncompliant under {rs.name} ({detail}); the submission "
            "would break the rules (pass --allow-noncompliant to write it anyway)"
        )
    base = default_info(label, entry, fmt)
    info = info or base
    description = {**base.description, **info.description}
    authors = info.authors or base.authors
    return {
        "submission": {
            "label": label,
            "name": info.name or base.name,
            "abbreviation": info.abbreviation or base.abbreviation,
            "authors": [a.model_dump(mode="json") for a in authors],
        },
        "system": {
            "description": description,
            "complexity": measured_complexity(entry, rs),
            "external_datasets": [d.model_dump(mode="json") for d in info.external_datasets],
            "source_code": info.source_code,
        },
        "results": {"development_dataset": development_results(entry)},
    }


def check_meta(meta: dict[str, Any], ruleset: str) -> list[str]:
    """The problems the official validator would report for a meta mapping, plus the fields
    still left null (to be filled in by hand)."""
    fmt = submission_format(ruleset)
    problems = _submission_problems(meta.get("submission") or {}, fmt)
    problems += _system_problems(meta.get("system") or {}, fmt)
    dev = (meta.get("results") or {}).get("development_dataset") or {}
    problems += _results_problems(dev)
    return problems


def _missing_keys(mapping: dict[str, Any], keys: Sequence[str], where: str) -> list[str]:
    return [f"{where}.{key} is missing" for key in keys if key not in mapping]


def _submission_problems(sub: dict[str, Any], fmt: SubmissionFormat) -> list[str]:
    """Problems of the meta's ``submission`` block: label, abbreviation and authors."""
    problems = _missing_keys(sub, ("label", "name", "abbreviation", "authors"), "submission")
    label = str(sub.get("label", ""))
    parts = label.split("_")
    if len(parts) != 4 or parts[2] != fmt.task:
        problems.append(f"submission.label {label!r} is not Lastname_Institute_{fmt.task}_N")
    if len(str(sub.get("abbreviation") or "")) > 10:
        problems.append("submission.abbreviation is longer than 10 characters")
    authors = sub.get("authors") or []
    if sum(bool(a.get("corresponding")) for a in authors) != 1:
        problems.append("exactly one author must have corresponding: true")
    for i, author in enumerate(authors):
        for key in ("lastname", "firstname", "email", "affiliation"):
            if author.get(key) in (None, ""):
                problems.append(f"submission.authors[{i}].{key} is not filled in")
    return problems


def _system_problems(system: dict[str, Any], fmt: SubmissionFormat) -> list[str]:
    """Problems of the meta's ``system`` block: the description fields and the parameters."""
    keys = ("description", "complexity", "external_datasets", "source_code")
    problems = _missing_keys(system, keys, "system")
    description = system.get("description") or {}
    for key in fmt.description_fields:
        if key not in description:
            problems.append(f"system.description.{key} is missing")
        elif description[key] in (None, ""):
            problems.append(f"system.description.{key} is not filled in")
    total = (system.get("complexity") or {}).get("total_parameters")
    if not isinstance(total, int) or isinstance(total, bool):
        problems.append("system.complexity.total_parameters is not an integer")
    return problems


def _results_problems(dev: dict[str, Any]) -> list[str]:
    """Problems of ``results.development_dataset``: every scene and device, and the scores."""
    where = "results.development_dataset"
    problems = _missing_keys(dev, ("overall", "class_wise", "device_wise"), where)
    for block, names in (("class_wise", SCENES), ("device_wise", DEVICES)):
        missing = [n for n in names if n not in (dev.get(block) or {})]
        if missing:
            problems.append(f"{where}.{block} lacks {', '.join(missing)}")
    for block in ("overall",):
        values = dev.get(block) or {}
        for key in ("logloss", "accuracy"):
            value = values.get(key)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                problems.append(f"{where}.{block}.{key} is not a number")
    return problems


def meta_yaml_text(meta: dict[str, Any], entry: LeaderboardEntry) -> str:
    """The meta mapping as YAML with a header saying where the measured values come from."""
    import yaml

    c = entry.complexity
    lines = [
        f"# Generated by ascbench {entry.provenance.ascbench_version} from entry "
        f"{(entry.entry_hash or '')[:16]} ({entry.label()}).",
        "# system.complexity and results are measured by ascbench; do not edit them by hand.",
    ]
    if c is not None:
        lines.append(
            f"# Complexity counter: {c.counter}, MAC convention {c.convention}"
            + (
                f"; the official counter would report {c.macs_official} MACs"
                if c.macs_official != c.macs
                else ""
            )
            + "."
        )
    lines.append("# Fill in every null field (authors, system description) before submitting.")
    if entry.system.deviations:
        lines.append("# Deviations from the report, as the plugin states them:")
        lines += [f"#  - {' '.join(d.split())}" for d in entry.system.deviations]
    body = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "\n".join(lines) + "\n" + body


def write_meta_yaml(
    path: str | Path,
    label: str,
    entry: LeaderboardEntry,
    ruleset: RuleSet | RuleSetInfo | None = None,
    info: SubmissionInfo | None = None,
    *,
    allow_noncompliant: bool = False,
) -> Path:
    """Write ``<label>.meta.yaml`` atomically; see :func:`build_meta`.

    An existing file with different content is kept as ``<name>.bak`` first.
    """
    path = Path(path)
    meta = build_meta(label, entry, ruleset, info, allow_noncompliant=allow_noncompliant)
    text = meta_yaml_text(meta, entry)
    if path.exists():
        old = path.read_bytes()
        if old != text.encode("utf-8"):
            atomic_write_bytes(path.with_name(path.name + ".bak"), old)
    return atomic_write_text(path, text)


def submission_paths(out: str | Path, label: str) -> tuple[Path, Path]:
    """``<out>/<label>/<label>.output.csv`` and ``<out>/<label>/<label>.meta.yaml``."""
    folder = Path(out) / label
    return folder / f"{label}.output.csv", folder / f"{label}.meta.yaml"
