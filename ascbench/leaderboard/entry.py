"""The leaderboard entry: one system, under one rule set, trained with one seed.

An entry holds everything the leaderboard shows and everything needed to trust it: measured
metrics, measured complexity with the pass/fail of every limit, per-compressor-stage records,
the numbers the technical report states (beside the measured ones), and provenance (versions,
hardware, dataset fingerprint, budget, timestamps). ``entry_hash`` is a SHA-256 over the
canonical JSON of the entry without the hash, so any later edit of a stored file is detected.

Build entries with :func:`build_entry`; :func:`ascbench.leaderboard.schema.leaderboard_json_schema`
is the published schema (``leaderboard/schema.json`` at the repository root).

Verifying a stored entry without ascbench::

    data = json.load(open(path)); stored = data.pop("entry_hash")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == stored

The hash covers every field, defaults included, so adding a field to the format (here or in
the models it embeds: ``ReportedResults``, ``Limit``, ``LimitCheck``) needs a new
``schema_version`` and a migration of old entries.

Versions: 2 added ``provenance.torch_threads`` (the torch thread count the job ran with: float
reductions depend on it). 3 added status 'degenerate' with ``degenerate`` (why the predictions
show that the model learned nothing, :mod:`ascbench.leaderboard.degeneracy`) and its evidence
``metrics.predictions`` (also in ``stages[].metrics``), and ``provenance.numpy_version`` and
``provenance.kernels`` (what selects the CPU kernels torch runs). Older entries are still
read, verified and written as they were: their canonical JSON leaves out the fields their
version does not have.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from ascbench.complexity.report import ComplexitySummary
from ascbench.errors import AscbenchError, describe_problem
from ascbench.leaderboard.degeneracy import degeneracy_reasons
from ascbench.rules import Limit, LimitCheck, RuleSet
from ascbench.scenes import DEVICE_GROUPS, DEVICES, SCENES
from ascbench.systems import ReportedResults, System

#: Version of the entry format. Bump it (and migrate) when a field changes meaning or is added.
SCHEMA_VERSION = 5
#: Versions this ascbench reads (the older ones as they were written).
SUPPORTED_SCHEMA_VERSIONS = (1, 2, 3, 4, 5)
#: Fields version 3 added (a pydantic ``exclude`` of them).
_ADDED_IN_3: dict[str, Any] = {
    "degenerate": True,
    "metrics": {"predictions"},
    "stages": {"__all__": {"metrics": {"predictions"}}},
    "provenance": {"numpy_version", "kernels"},
}
#: Fields version 4 added: the system's stated deviations from its report.
_ADDED_IN_4: dict[str, Any] = {"system": {"deviations"}}
#: Fields version 5 added: each device model's complexity (DCASE 2025).
_ADDED_IN_5: dict[str, Any] = {"device_models": True}
#: Per older version, the fields it does not have (left out of its canonical JSON and file).
_NOT_IN_VERSION: dict[int, dict[str, Any]] = {
    1: {
        **_ADDED_IN_3,
        **_ADDED_IN_4,
        **_ADDED_IN_5,
        "provenance": {"torch_threads", *_ADDED_IN_3["provenance"]},
    },
    2: {**_ADDED_IN_3, **_ADDED_IN_4, **_ADDED_IN_5},
    3: {**_ADDED_IN_4, **_ADDED_IN_5},
    4: _ADDED_IN_5,
}

#: The URL-free identifier written into the published JSON schema.
SCHEMA_ID = f"https://ascbench.invalid/schema/leaderboard-v{SCHEMA_VERSION}.json"

Status = Literal["ok", "degenerate", "noncompliant", "failed"]
ComplianceStatus = Literal["pass", "fail", "ambiguous"]

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_HASH = r"^[0-9a-f]{64}$"


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


class LeaderboardError(AscbenchError):
    """A leaderboard entry, result file or leaderboard is malformed, tampered or conflicting."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _safe_name(value: str, what: str) -> str:
    """A name usable as one path component: letters, digits, ``_ . -``, not ``.``/``..``."""
    if not _NAME.fullmatch(value) or value in {".", ".."}:
        raise ValueError(
            f"{what} {value!r} must consist of letters, digits, '_', '.', '-' (and not be '.' "
            "or '..')"
        )
    return value


def _directory_name(what: str) -> AfterValidator:
    """The validator of a name field that is one path component (:func:`_safe_name`); ``what``
    names the field in the error."""
    return AfterValidator(lambda value: _safe_name(value, what))


# -- parts of an entry --------------------------------------------------------------------------


class SystemInfo(_Strict):
    """Which system ran: its registry name, title, plugin and whether it is a proposal."""

    name: Annotated[str, _directory_name("system name")] = Field(
        description="Registry name of the system; used as a directory name."
    )
    title: str
    plugin: str = Field("", description="Plugin that registered the system.")
    plugin_version: str = Field("", description="Version of that plugin's distribution.")
    proposal: bool = Field(
        False,
        description="True when the architecture is ascbench's proposal sized to the report's "
        "numbers, not the authors' network.",
    )
    report: str = Field("", description="Citation of the technical report.")
    deviations: list[str] = Field(
        default_factory=list,
        description="Where the implementation departs from the report, as its plugin states "
        "(schema version 4).",
    )

    @classmethod
    def from_system(cls, system: System, plugin_version: str = "") -> SystemInfo:
        """The entry's view of a registered :class:`~ascbench.systems.System`."""
        return cls(
            name=system.name,
            title=system.title,
            plugin=system.plugin,
            plugin_version=plugin_version,
            proposal=system.proposal,
            report=system.report,
            deviations=list(system.deviations),
        )


class RuleSetInfo(_Strict):
    """The rule set an entry was measured under: what the leaderboard needs to rank and plot."""

    name: Annotated[str, _directory_name("rule-set name")] = Field(
        description="Rule-set identifier, e.g. 'dcase2022'; a directory name."
    )
    title: str = ""
    primary_metric: Literal["log_loss", "accuracy"] = Field(
        "log_loss", description="Metric the leaderboard ranks by; the other one breaks ties."
    )
    kilobyte: Literal[1000, 1024] = Field(1000, description="Bytes in the rule text's 'KB'.")
    clip_seconds: float = Field(gt=0, description="Length of one input clip at inference.")
    limits: list[Limit] = Field(default_factory=list)
    device_at_inference: bool | None = Field(
        None,
        description="Whether the rule set gives the recording device at inference (one model "
        "per device allowed); None in entries written before ascbench recorded it.",
    )

    @classmethod
    def from_ruleset(cls, ruleset: RuleSet) -> RuleSetInfo:
        """The entry's view of a :class:`~ascbench.rules.RuleSet`: each field is the rule set's
        attribute of the same name."""
        return cls.model_validate(ruleset, from_attributes=True)


class Score(_Strict):
    """Accuracy (percent) and log loss of one subset: a class, a device or a device group."""

    accuracy: float = Field(ge=0, le=100, description="Accuracy in percent.")
    log_loss: float = Field(ge=0)


class PredictionStats(_Strict):
    """The predicted classes of the evaluated clips as a whole: the evidence that the model
    learned, or not (schema 3; the criteria are in :mod:`ascbench.leaderboard.degeneracy`).

    A clip's predicted class is its top probability's class; exact ties go to the lowest class
    index. ``top_share`` and ``top_two_share`` follow from ``predicted`` (filled in when absent,
    checked when present).
    """

    clips: int = Field(ge=1, description="Clips evaluated.")
    correct: int = Field(ge=0, description="Clips whose predicted class is their label.")
    predicted: dict[str, int] = Field(
        description="Per class, in class order, the clips predicted as it (zeros included)."
    )
    top_share: float = Field(
        ge=0, le=1, description="Share of the clips predicted as the most predicted class."
    )
    top_two_share: float = Field(
        ge=0, le=1, description="Share of the clips predicted as one of the two most predicted."
    )
    tied: int = Field(
        ge=0,
        description="Clips whose top probability two or more classes share exactly (the lowest "
        "class index among them is the predicted class).",
    )
    binomial_p: float = Field(
        ge=0,
        le=1,
        description="One-sided exact binomial p-value of 'correct' against chance "
        "(p = 1 / classes): P(at least that many right by guessing).",
    )

    @staticmethod
    def shares(predicted: dict[str, int], clips: int) -> tuple[float, float]:
        """(top_share, top_two_share) of a histogram of ``clips`` predictions."""
        counts = sorted(predicted.values(), reverse=True)
        return counts[0] / clips, sum(counts[:2]) / clips

    @model_validator(mode="before")
    @classmethod
    def _fill_shares(cls, data: Any) -> Any:
        if isinstance(data, dict) and "top_share" not in data and "top_two_share" not in data:
            predicted, clips = data.get("predicted"), data.get("clips")
            if isinstance(predicted, dict) and predicted and isinstance(clips, int) and clips > 0:
                top, two = cls.shares(predicted, clips)
                data = {**data, "top_share": top, "top_two_share": two}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> PredictionStats:
        if len(self.predicted) < 2:
            raise ValueError("predicted needs a count for every class (at least 2)")
        if any(count < 0 for count in self.predicted.values()):
            raise ValueError("predicted counts must be >= 0")
        total = sum(self.predicted.values())
        if total != self.clips:
            raise ValueError(f"predicted counts sum to {total}, not to clips {self.clips}")
        for name in ("correct", "tied"):
            if getattr(self, name) > self.clips:
                raise ValueError(f"{name} {getattr(self, name)} exceeds clips {self.clips}")
        if (self.top_share, self.top_two_share) != self.shares(self.predicted, self.clips):
            raise ValueError("top_share or top_two_share does not follow from predicted")
        return self

    def degeneracy(self, log_loss: float) -> list[str]:
        """Why these predictions (with headline ``log_loss``) show that the model learned
        nothing; empty when it learned."""
        return degeneracy_reasons(
            predicted=self.predicted,
            clips=self.clips,
            correct=self.correct,
            binomial_p=self.binomial_p,
            log_loss=log_loss,
        )


class Metrics(_Strict):
    """Measured classification results on the evaluation split."""

    accuracy: float = Field(
        ge=0, le=100, description="Macro-average of class-wise accuracies, percent."
    )
    log_loss: float = Field(ge=0, description="Macro-average of class-wise log losses.")
    class_wise: dict[str, Score] = Field(default_factory=dict)
    device_wise: dict[str, Score] = Field(default_factory=dict)
    device_groups: dict[str, Score] = Field(
        default_factory=dict, description="Pooled device groups, e.g. real / seen / unseen."
    )
    ece: float | None = Field(None, ge=0, le=1, description="Expected calibration error.")
    extra: dict[str, float] = Field(
        default_factory=dict, description="Further numbers from evaluator plugins, by name."
    )
    predictions: PredictionStats | None = Field(
        None,
        description="Predicted-class histogram, correct and tied clips and the binomial test "
        "against chance: the evidence for status 'degenerate' (schema 3).",
    )

    def degeneracy(self) -> list[str]:
        """Why these metrics show that the model learned nothing (empty when it learned, or
        when there is no ``predictions`` evidence to judge by)."""
        return self.predictions.degeneracy(self.log_loss) if self.predictions else []

    @classmethod
    def from_flat(
        cls,
        values: dict[str, float],
        *,
        classes: Sequence[str] = SCENES,
        devices: Sequence[str] = DEVICES,
        groups: Sequence[str] = tuple(DEVICE_GROUPS),
    ) -> Metrics:
        """Build from the flat dict the evaluators return.

        Keys: ``accuracy``, ``log_loss``, ``ece``, and ``accuracy.<x>`` / ``log_loss.<x>`` where
        ``x`` is a class, a device or a device group; any other key goes to ``extra``.
        """
        buckets: dict[str, dict[str, dict[str, float]]] = {
            "class_wise": {},
            "device_wise": {},
            "device_groups": {},
        }
        extra: dict[str, float] = {}
        where = {
            **{g: "device_groups" for g in groups},
            **{d: "device_wise" for d in devices},
            **{c: "class_wise" for c in classes},
        }
        for key, value in values.items():
            metric, _, subset = key.partition(".")
            if key in {"accuracy", "log_loss", "ece"}:
                continue
            if metric in {"accuracy", "log_loss"} and subset in where:
                buckets[where[subset]].setdefault(subset, {})[metric] = float(value)
            else:
                extra[key] = float(value)
        scored: dict[str, dict[str, Score]] = {}
        for name, subsets in buckets.items():
            scored[name] = {}
            for subset, pair in subsets.items():
                if len(pair) == 2:
                    scored[name][subset] = Score(**pair)
                else:  # only one of the two numbers: keep it, under its flat name
                    extra.update({f"{m}.{subset}": v for m, v in pair.items()})
        missing = [k for k in ("accuracy", "log_loss") if k not in values]
        if missing:
            raise ValueError(f"evaluator results lack {', '.join(missing)}")
        return cls(
            accuracy=values["accuracy"],
            log_loss=values["log_loss"],
            ece=values.get("ece"),
            extra=extra,
            **scored,
        )


def device_models_check(devices: int, ruleset: str) -> LimitCheck:
    """The failed check of a system that picks one of ``devices`` device models (and its
    general model) by recording device, under a rule set where the device is not known at
    inference."""
    return LimitCheck(
        quantity="device_models", value=devices + 1, maximum=1, status="fail",
        text=f"one model for every device: {ruleset} does not give the recording device at "
        "inference",
    )  # fmt: skip


def entry_compliance(
    summary: ComplexitySummary, ruleset: RuleSetInfo, device_models: dict | None = None
) -> Compliance:
    """Every limit of ``ruleset`` checked against ``summary``, and the device-models check
    where the rule set does not give the device at inference."""
    checks = [lim.check(summary.quantity(lim.quantity)) for lim in ruleset.limits]
    if device_models and ruleset.device_at_inference is False:
        checks.append(device_models_check(len(device_models), ruleset.name))
    return Compliance.from_checks(checks)


def entry_status(compliance: Compliance, degenerate: Sequence[str]) -> Status:
    """The status of a finished run: 'noncompliant' when a limit fails (degenerate or not),
    else 'degenerate' when there are degenerate reasons, else 'ok'."""
    if compliance.status == "fail":
        return "noncompliant"
    return "degenerate" if degenerate else "ok"


def overall_status(checks: list[LimitCheck]) -> ComplianceStatus:
    """'fail' if any limit fails, else 'ambiguous' if any is ambiguous, else 'pass'."""
    if any(c.status == "fail" for c in checks):
        return "fail"
    if any(c.status == "ambiguous" for c in checks):
        return "ambiguous"
    return "pass"


class Compliance(_Strict):
    """Every limit of the rule set checked against the measured complexity."""

    status: ComplianceStatus
    checks: list[LimitCheck]

    @model_validator(mode="after")
    def _status_matches(self) -> Compliance:
        expected = overall_status(self.checks)
        if self.status != expected:
            raise ValueError(f"status is {self.status!r} but the checks give {expected!r}")
        return self

    @classmethod
    def from_checks(cls, checks: list[LimitCheck]) -> Compliance:
        return cls(status=overall_status(list(checks)), checks=list(checks))

    def describe_failures(self) -> str:
        """One line naming every limit that is not passed, e.g. 'bytes 140,000 > 128,000'."""
        return "; ".join(
            f"{c.quantity} {c.value:,} > {c.maximum:,} ({c.status})"
            for c in self.checks
            if c.status != "pass"
        )


class Stage(_Strict):
    """One compressor stage of a system, recorded after it ran."""

    name: str = Field(description="Registry name of the compressor, or 'trained' for the start.")
    params: dict[str, JsonValue] = Field(default_factory=dict)
    complexity: ComplexitySummary | None = None
    compliance: Compliance | None = None
    metrics: Metrics | None = Field(None, description="Metrics after this stage, if measured.")


class FileRef(_Strict):
    """A file written beside the entry (e.g. the per-clip predictions), with its digest."""

    path: str = Field(description="Path relative to the directory of the entry file.")
    sha256: str = Field(pattern=_HASH)
    size: int = Field(ge=0, description="Size in bytes.")

    @classmethod
    def of(cls, path: str | Path, relative_to: str | Path) -> FileRef:
        """Describe an existing file ``path`` by its path relative to ``relative_to``."""
        path = Path(path)
        data = path.read_bytes()
        return cls(
            path=Path(path).resolve().relative_to(Path(relative_to).resolve()).as_posix(),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )


class Hardware(_Strict):
    """The machine a run used."""

    cpu: str = Field(description="CPU model name.")
    cores: int = Field(ge=1, description="Logical CPU cores visible to the process.")
    gpu: str | None = Field(None, description="GPU name, if a GPU was used or visible.")

    def describe(self) -> str:
        gpu = f", {self.gpu}" if self.gpu else ""
        return f"{self.cpu} ({self.cores} cores){gpu}"


class DatasetInfo(_Strict):
    """The dataset a run used, identified by a fingerprint of its files and metadata."""

    name: str
    fingerprint: str = Field(min_length=8, description="Hash of the dataset's file list/meta.")
    clips: dict[str, int] = Field(
        default_factory=dict, description="Clip counts by split, e.g. {'train': …, 'test': …}."
    )


class Budget(_Strict):
    """How much training the run was allowed: the report's full recipe, or a budgeted copy."""

    full: bool = Field(description="True when the report's own recipe ran unshortened.")
    epochs: int | None = Field(None, ge=0, description="Epochs actually trained.")
    minutes: float | None = Field(None, ge=0, description="Wall-clock budget, if one was set.")


class Kernels(_Strict):
    """What selects the CPU kernels torch runs, and so the last bits of float results: the
    same seed and thread count give the same numbers only with the same kernels (schema 3)."""

    cpu_capability: str = Field(
        description="Instruction set ATen's CPU kernels dispatch to "
        "(torch.backends.cpu.get_cpu_capability(), e.g. 'AVX2', 'AVX512', 'DEFAULT')."
    )
    onednn: bool = Field(
        description="oneDNN (MKL-DNN) was built in and enabled (torch.backends.mkldnn), so "
        "convolutions may run its kernels, chosen for the CPU's instruction set."
    )
    onednn_version: str | None = Field(
        None, description="oneDNN version torch was built with, e.g. '3.5.3'."
    )
    mkl_version: str | None = Field(None, description="MKL version torch was built with.")
    quantized_engine: str | None = Field(
        None,
        description="torch.backends.quantized.engine at the end of the job (int8 kernels), "
        "e.g. 'x86', 'fbgemm', 'qnnpack'.",
    )
    environment: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables that override the kernel choice, when set "
        "(ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, DNNL_MAX_CPU_ISA, MKL_CBWR, ...).",
    )

    def describe(self) -> str:
        """One line, e.g. 'AVX2, oneDNN 3.5.3, int8 x86'."""
        parts = [self.cpu_capability]
        if self.onednn:
            parts.append(f"oneDNN {self.onednn_version or '(version unknown)'}")
        else:
            parts.append("oneDNN off")
        if self.quantized_engine:
            parts.append(f"int8 {self.quantized_engine}")
        parts += [f"{k}={v}" for k, v in sorted(self.environment.items())]
        return ", ".join(parts)


class Provenance(_Strict):
    """Where an entry came from: software, hardware, data, budget and time."""

    ascbench_version: str
    plugin_versions: dict[str, str] = Field(default_factory=dict)
    torch_version: str
    python_version: str
    platform: str = Field(description="OS/platform string, e.g. 'Linux-6.1-x86_64'.")
    hardware: Hardware
    dataset: DatasetInfo | None = Field(None, description="Absent only for failed runs.")
    seed: int = Field(ge=0)
    budget: Budget
    device: str = Field(description="Torch device used for training, e.g. 'cpu', 'cuda:0'.")
    started: AwareDatetime = Field(description="UTC, ISO 8601.")
    finished: AwareDatetime = Field(description="UTC, ISO 8601.")
    wall_seconds: float = Field(ge=0)
    git_commit: str | None = Field(None, description="Commit of the ascbench checkout, if any.")
    git_dirty: bool | None = Field(None, description="Whether that checkout had local changes.")
    torch_threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads the job trained and evaluated with: float reductions "
        "depend on it, so the same seed gives the same numbers only with the same count "
        "(schema 2; absent from version-1 entries).",
    )
    numpy_version: str | None = Field(None, description="numpy version (schema 3).")
    kernels: Kernels | None = Field(
        None, description="What selects torch's CPU kernels on this machine (schema 3)."
    )

    @field_validator("started", "finished")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _ordered(self) -> Provenance:
        if self.finished < self.started:
            raise ValueError("finished is earlier than started")
        return self


# -- the entry ----------------------------------------------------------------------------------


class LeaderboardEntry(_Strict):
    """One leaderboard entry: one system under one rule set with one training seed."""

    schema_version: Literal[1, 2, 3, 4, 5] = Field(
        SCHEMA_VERSION, description="Version of this format."
    )
    system: SystemInfo
    ruleset: RuleSetInfo
    seed: int = Field(ge=0)
    status: Status = Field(
        description="'ok': compliant (or ambiguous) with metrics, and the model learned; "
        "'degenerate': compliant (or ambiguous), but the predictions show that the model "
        "learned nothing (see degenerate); 'noncompliant': a limit fails (whether or not it "
        "is degenerate); 'failed': the run did not finish (see reason)."
    )
    reason: str = Field(
        "",
        description="Why the run failed, is noncompliant or degenerate (the degenerate "
        "reasons first), or which limits are ambiguous.",
    )
    degenerate: list[str] = Field(
        default_factory=list,
        description="Why the predictions show that the model learned nothing, one sentence per "
        "criterion met (empty: it learned, or the run failed); non-empty exactly when "
        "metrics.predictions and metrics.log_loss meet a criterion (schema 3).",
    )
    metrics: Metrics | None = None
    complexity: ComplexitySummary | None = None
    compliance: Compliance | None = None
    stages: list[Stage] = Field(default_factory=list)
    device_models: dict[str, ComplexitySummary] = Field(
        default_factory=dict,
        description="With one model per recording device (DCASE 2025): each model's complexity "
        "by device ('general' for the model of every other device); 'complexity' is the "
        "largest of them, and every one is checked against the limits (schema 5).",
    )
    reported: ReportedResults | None = Field(
        None, description="What the technical report states, shown beside the measured values."
    )
    artifacts: dict[str, FileRef] = Field(
        default_factory=dict, description="Files written with the entry, e.g. 'predictions'."
    )
    provenance: Provenance
    entry_hash: str | None = Field(
        None,
        pattern=_HASH,
        description="SHA-256 of the canonical JSON of the entry without this field.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LeaderboardEntry:
        self._fields_of_its_version()
        if self.provenance.seed != self.seed:
            raise ValueError(
                f"seed {self.seed} differs from provenance.seed {self.provenance.seed}"
            )
        if self.status == "failed":
            if not self.reason.strip():
                raise ValueError("a failed entry needs a reason")
            return self
        for name in ("metrics", "complexity", "compliance"):
            if getattr(self, name) is None:
                raise ValueError(f"a {self.status!r} entry needs {name}")
        if self.provenance.dataset is None:
            raise ValueError(f"a {self.status!r} entry needs provenance.dataset")
        assert self.compliance is not None and self.complexity is not None
        assert self.metrics is not None
        # the judgement must follow from the evidence; the words are as ascbench wrote them
        degenerate = self.metrics.degeneracy()
        if bool(self.degenerate) != bool(degenerate):
            raise ValueError(
                f"degenerate lists {len(self.degenerate)} reasons but metrics.predictions "
                f"meet {len(degenerate)} criteria: {'; '.join(degenerate) or 'none'}"
            )
        expected = entry_status(self.compliance, degenerate)
        if self.status != expected:
            raise ValueError(
                f"status is {self.status!r} but compliance is {self.compliance.status!r} and "
                f"the model {'is degenerate' if degenerate else 'learned'} "
                f"(expected {expected!r})"
            )
        self._checks_follow_the_rules()
        return self

    def _checks_follow_the_rules(self) -> None:
        """The compliance checks are the rule set's limits (and the device-models check where
        the rule set does not give the device at inference), each with the measured value."""
        assert self.compliance is not None and self.complexity is not None
        expected = entry_compliance(self.complexity, self.ruleset, self.device_models).checks
        limits = [(c.quantity, c.maximum) for c in expected]
        checked = [(c.quantity, c.maximum) for c in self.compliance.checks]
        if limits != checked:
            raise ValueError(
                f"compliance checks {checked} do not match the limits of rule set "
                f"{self.ruleset.name!r} {limits}"
            )
        for check, measured in zip(self.compliance.checks, expected, strict=True):
            if check.value != measured.value:
                raise ValueError(
                    f"compliance check of {check.quantity} says {check.value} but complexity "
                    f"says {measured.value}"
                )

    def _fields_of_its_version(self) -> None:
        """Refuse fields that this entry's ``schema_version`` does not have."""
        if self.schema_version < 4 and self.system.deviations:
            raise ValueError(f"a schema_version {self.schema_version} entry has no deviations")
        if self.schema_version < 5 and self.device_models:
            raise ValueError(f"a schema_version {self.schema_version} entry has no device_models")
        if self.schema_version >= 3:
            if self.status == "failed" and self.degenerate:
                raise ValueError("a failed entry has no degenerate reasons")
            return
        version = f"a schema_version {self.schema_version} entry"
        if self.schema_version == 1 and self.provenance.torch_threads is not None:
            raise ValueError(f"{version} has no provenance.torch_threads")
        for name in ("numpy_version", "kernels"):
            if getattr(self.provenance, name) is not None:
                raise ValueError(f"{version} has no provenance.{name}")
        if self.degenerate or self.status == "degenerate":
            raise ValueError(f"{version} has no status 'degenerate' and no degenerate reasons")
        stages = [(f"stages.{i}.metrics", s.metrics) for i, s in enumerate(self.stages)]
        for where, metrics in [("metrics", self.metrics), *stages]:
            if metrics is not None and metrics.predictions is not None:
                raise ValueError(f"{version} has no {where}.predictions")

    # -- identity ------------------------------------------------------------------------------
    @property
    def key(self) -> tuple[str, str, int]:
        """(system, rule set, seed): what identifies an entry in a store or leaderboard."""
        return (self.system.name, self.ruleset.name, self.seed)

    def label(self) -> str:
        return f"{self.system.name} under {self.ruleset.name}, seed {self.seed}"

    # -- content hash --------------------------------------------------------------------------
    def _version_fields(self) -> dict:
        """What this entry's schema version does not have (for dumping it as written)."""
        return dict(_NOT_IN_VERSION.get(self.schema_version, {}))

    def canonical_json(self) -> bytes:
        """The entry without ``entry_hash`` as JSON with sorted keys and no whitespace (UTF-8)."""
        data = self.model_dump(mode="json", exclude={**self._version_fields(), "entry_hash": True})
        return json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")

    def compute_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def with_hash(self) -> LeaderboardEntry:
        """A copy whose ``entry_hash`` is the hash of its content."""
        return self.model_copy(update={"entry_hash": self.compute_hash()})

    def verify(self) -> bool:
        """Whether ``entry_hash`` is present and matches the content."""
        return self.entry_hash is not None and self.entry_hash == self.compute_hash()

    def to_json(self) -> str:
        """The entry as indented JSON (the stored file format), hash included."""
        return self.model_dump_json(indent=2, exclude=self._version_fields() or None) + "\n"


# -- parsing with one-line errors ---------------------------------------------------------------


def parse_entry(data: Any, source: str, *, verify: bool = True) -> LeaderboardEntry:
    """Validate ``data`` (parsed JSON) as an entry; ``source`` names it in the error message.

    With ``verify`` the entry must carry an ``entry_hash`` that matches its content.
    """
    version = data.get("schema_version", SCHEMA_VERSION) if isinstance(data, dict) else None
    if isinstance(data, dict) and version not in SUPPORTED_SCHEMA_VERSIONS:
        supported = ", ".join(str(v) for v in SUPPORTED_SCHEMA_VERSIONS)
        raise LeaderboardError(
            f"{source}: entry schema_version {version!r} is not one this ascbench reads "
            f"({supported}); use the ascbench version that wrote it"
        )
    try:
        entry = LeaderboardEntry.model_validate(data)
    except ValidationError as exc:
        raise LeaderboardError(
            f"{source}: not a valid leaderboard entry {describe_problem(exc)}; "
            "see `leaderboard/schema.json` for the format"
        ) from exc
    if verify:
        if entry.entry_hash is None:
            raise LeaderboardError(
                f"{source}: entry has no entry_hash, so its content cannot be verified; "
                "re-create it with ascbench"
            )
        actual = entry.compute_hash()
        if actual != entry.entry_hash:
            raise LeaderboardError(
                f"{source}: content does not match entry_hash ({entry.entry_hash[:12]}… stored, "
                f"{actual[:12]}… computed): the file was changed after ascbench wrote it; "
                "restore the original or re-run the system"
            )
    return entry


# -- building an entry --------------------------------------------------------------------------


def build_entry(
    *,
    system: System | SystemInfo,
    ruleset: RuleSet | RuleSetInfo,
    seed: int,
    provenance: Provenance,
    complexity: Any = None,
    metrics: Metrics | dict[str, Any] | None = None,
    stages: list[Stage] | None = None,
    artifacts: dict[str, FileRef] | None = None,
    error: str | None = None,
    plugin_version: str = "",
    device_models: dict[str, Any] | None = None,
) -> LeaderboardEntry:
    """Assemble a hashed entry from what a run produced.

    ``complexity`` is the :class:`~ascbench.complexity.report.ComplexityReport` of the final
    (compressed) model, or a :class:`ComplexitySummary`; its limit checks are redone against
    ``ruleset``'s limits. ``error`` marks the run as failed with that reason (metrics and
    complexity may then be None). The status follows the checks and the predictions: any
    failed limit makes the entry 'noncompliant'; else predictions that show the model learned
    nothing (``metrics.predictions``, see :mod:`ascbench.leaderboard.degeneracy`) make it
    'degenerate'. ``degenerate`` lists the reasons in either case.
    """
    sys_info = (
        system if isinstance(system, SystemInfo) else SystemInfo.from_system(system, plugin_version)
    )
    rs_info = ruleset if isinstance(ruleset, RuleSetInfo) else RuleSetInfo.from_ruleset(ruleset)
    reported = system.reported if isinstance(system, System) else None
    summary = None
    if complexity is not None:
        summary = (
            complexity
            if isinstance(complexity, ComplexitySummary)
            else ComplexitySummary.from_report(complexity)
        )
    if isinstance(metrics, dict):
        metrics = Metrics.model_validate(metrics)
    compliance = None if summary is None else entry_compliance(summary, rs_info, device_models)
    status: Status
    degenerate: list[str] = []
    if error is not None or metrics is None or summary is None or compliance is None:
        status = "failed"
        reason = " ".join((error or "run produced no metrics or no complexity").split())
    else:
        degenerate = metrics.degeneracy()
        status = entry_status(compliance, degenerate)
        limits = compliance.describe_failures()
        parts = list(degenerate) if status == "degenerate" else []
        reason = "; ".join(parts + ([limits] if limits else []))
    entry = LeaderboardEntry(
        system=sys_info,
        ruleset=rs_info,
        seed=seed,
        status=status,
        reason=reason,
        degenerate=degenerate,
        metrics=metrics,
        complexity=summary,
        compliance=compliance,
        stages=list(stages or []),
        device_models=dict(device_models or {}),
        reported=reported,
        artifacts=dict(artifacts or {}),
        provenance=provenance,
    )
    return entry.with_hash()
