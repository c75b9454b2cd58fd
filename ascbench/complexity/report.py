"""The complexity report: what ``ascbench profile`` prints and the leaderboard stores."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ascbench.rules import LimitCheck


def ambiguity_flags(checks: list[LimitCheck]) -> list[str]:
    """A flag for every check that landed in a limit's ambiguous margin."""
    return [
        f"{check.quantity} {check.value:,} is above {check.maximum:,} but within the "
        f"ambiguous margin of the rule text ({check.text})"
        for check in checks
        if check.status == "ambiguous"
    ]


class LayerComplexity(BaseModel):
    """One module's own share: its own tensors and the MACs of its own forward."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Module path in the model; '(model)' for the model itself.")
    type: str
    parameters: int = 0
    nonzero_parameters: int = 0
    bytes: int = 0
    macs: int = Field(0, description="MACs the official counter also gives this module.")
    functional_macs: int = Field(
        0, description="MACs traced in this module's forward that the official counter misses."
    )
    ops: dict[str, int] = Field(default_factory=dict, description="MACs by op kind.")


class ComplexityReport(BaseModel):
    """Size and cost of one model under one rule set, with pass/fail per limit."""

    model_config = ConfigDict(extra="forbid")

    ruleset: str
    convention: str = Field(description="MAC convention name, e.g. 'nessi-torch'.")
    counter: str = Field(description="What counted: ascbench and fvcore versions.")
    clip_seconds: float
    input_shape: list[int] = Field(description="(batch, channels, freq, time) of the model input.")
    parameters: int = Field(description="Counted values incl. zeros (and counted buffers).")
    nonzero_parameters: int
    bytes: int = Field(description="Bytes of the counted values under the rule set's convention.")
    macs: int = Field(description="All traced MACs under the convention, functional ops included.")
    macs_official: int = Field(
        description="MACs the official counter would report (leaf modules only)."
    )
    functional_macs: int = Field(description="macs - macs_official: work in functional ops.")
    fvcore_macs: int = Field(description="fvcore's own default total, as a cross-check column.")
    fvcore_by_operator: dict[str, int] = Field(default_factory=dict)
    values_by_dtype: dict[str, int] = Field(
        default_factory=dict, description="Counted values by stored dtype."
    )
    layers: list[LayerComplexity] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list, description="Everything worth a second look.")
    checks: list[LimitCheck] = Field(default_factory=list)

    @property
    def compliant(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        if any(c.status == "fail" for c in self.checks):
            return "fail"
        if any(c.status == "ambiguous" for c in self.checks):
            return "ambiguous"
        return "pass"


class ComplexitySummary(BaseModel):
    """The headline numbers of a :class:`ComplexityReport`: what a compressor stage records and
    what a leaderboard entry keeps (the per-layer breakdown stays in the report)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    convention: str = Field(description="MAC convention name, e.g. 'nessi-torch'.")
    counter: str = Field(description="What counted: ascbench and fvcore versions.")
    input_shape: list[int] = Field(description="(batch, channels, freq, time) of the model input.")
    parameters: int = Field(ge=0)
    nonzero_parameters: int = Field(ge=0)
    bytes: int = Field(ge=0)
    macs: int = Field(ge=0, description="All traced MACs, functional ops included.")
    macs_official: int = Field(ge=0, description="MACs the official counter would report.")
    fvcore_macs: int = Field(ge=0, description="fvcore's own total, as a cross-check.")
    values_by_dtype: dict[str, int] = Field(
        default_factory=dict, description="Counted values by stored dtype."
    )
    status: str | None = Field(
        None, description="'pass', 'fail' or 'ambiguous' under the rule set's limits."
    )
    flags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> ComplexitySummary:
        if self.nonzero_parameters > self.parameters:
            raise ValueError(
                f"nonzero_parameters {self.nonzero_parameters} exceeds parameters {self.parameters}"
            )
        if self.macs_official > self.macs:
            raise ValueError(f"macs_official {self.macs_official} exceeds macs {self.macs}")
        return self

    @classmethod
    def from_report(cls, report: Any) -> ComplexitySummary:
        """Summarise a :class:`ComplexityReport` (or anything with the same attributes): each
        field is the report's attribute of the same name."""
        return cls.model_validate(report, from_attributes=True)

    def quantity(self, name: str) -> int:
        """The measured value a limit on ``name`` (parameters, bytes, ...) is checked against."""
        return int(getattr(self, name))
