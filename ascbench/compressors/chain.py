"""Running a chain of compressors with complexity measured before and after every stage.

:func:`run_chain` applies ``[(name, compressor), ...]`` in order. It measures the model
before the first stage (record 0, named ``"uncompressed"``) and after every stage under the
rule set, evaluates it when the context can (``context.evaluate(model) -> dict``), and
returns the compressed model with one :class:`StageRecord` per measurement. An int8 model is
measured with its fused float model as ``mac_model`` (:func:`measure_compressed`). Each stage
is counted in the form the rule set counts (:class:`CountedForms`): before or after layer
fusion.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from ascbench.complexity import ComplexityReport, ComplexitySummary, measure
from ascbench.complexity.fusion import count_before_fusion, is_fusion, note_after_fusion
from ascbench.compressors.base import STORAGE_MADE_BY, CompressionError, refusal
from ascbench.compressors.quantize import float_reference
from ascbench.rules import RuleSet


@dataclass
class CompressionContext:
    """What compressors may use besides the model.

    - ``calibration``: batches of training features for int8 calibration: an iterable of
      tensors ``(batch, C, F, T)`` or ``(features, labels, ...)`` tuples, or a zero-argument
      callable returning a fresh iterable (a DataLoader works as either);
    - ``finetune``: ``finetune(model) -> model`` trains a pruned model further (masks
      attached), or None to skip fine-tuning;
    - ``evaluate``: ``evaluate(model) -> {"accuracy": ..., "log_loss": ...}`` recorded after
      every stage, or None;
    - ``ruleset`` and ``input_shape`` ``(C, F, T)``: how complexity is counted;
    - ``progress``: ``progress(message)`` for long steps, or None.

    Compressors add notes for the current stage with :meth:`note`.
    """

    calibration: Iterable[Any] | Callable[[], Iterable[Any]] | None = None
    finetune: Callable[[torch.nn.Module], torch.nn.Module] | None = None
    evaluate: Callable[[torch.nn.Module], Mapping[str, Any]] | None = None
    ruleset: RuleSet | None = None
    input_shape: tuple[int, ...] | None = None
    progress: Callable[[str], None] | None = None
    notes: list[str] = field(default_factory=list)
    #: set by :func:`run_chain`: the full report of the chain's last model, counted in the form
    #: the rule set counts (before or after layer fusion)
    report: ComplexityReport | None = None

    def note(self, message: str) -> None:
        """Attach a note to the stage being run."""
        self.notes.append(" ".join(str(message).split()))


class StageRecord(BaseModel):
    """One stage of a compression chain: what ran, and the model's complexity around it.

    Record 0 is the uncompressed model (``before`` is None, ``after`` its complexity).
    """

    model_config = ConfigDict(extra="forbid")

    index: int
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    ruleset: str
    before: ComplexitySummary | None = None
    after: ComplexitySummary
    metrics: dict[str, float] = Field(
        default_factory=dict, description="context.evaluate(model) after the stage."
    )
    seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)


def measure_compressed(
    model: torch.nn.Module, ruleset: RuleSet, input_shape: Sequence[int]
) -> ComplexityReport:
    """:func:`ascbench.complexity.measure`, tracing an int8 model's float reference for MACs."""
    return measure(model, ruleset, tuple(input_shape), mac_model=float_reference(model))


class CountedForms:
    """Measures the models of one chain in the form the rule set counts.

    It remembers the last model before a layer fusion (see :mod:`ascbench.complexity.fusion`)
    so that a rule set counting "before fusion" sees that model's parameters and MACs in every
    later stage, and one counting "after" gets a note of what fusion changed.
    """

    def __init__(self, model: torch.nn.Module, ruleset: RuleSet, shape: Sequence[int]) -> None:
        self.ruleset, self.shape = ruleset, tuple(shape)
        self.last_unfused_model = model
        self.unfused = measure_compressed(model, ruleset, self.shape)
        self.fused = False

    def measure(self, model: torch.nn.Module) -> ComplexityReport:
        deployed = measure_compressed(model, self.ruleset, self.shape)
        if not self.fused and not is_fusion(self.last_unfused_model, model):
            self.last_unfused_model, self.unfused = model, deployed
            return deployed
        self.fused = True
        if self.ruleset.counted_on.fusion == "before":
            return count_before_fusion(deployed, self.unfused, self.ruleset)
        return note_after_fusion(deployed, self.unfused, self.ruleset)


def _metrics(context: CompressionContext, model: torch.nn.Module) -> dict[str, float]:
    if context.evaluate is None:
        return {}
    values = context.evaluate(model) or {}
    out = {}
    for key, value in dict(values).items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            context.note(f"evaluate() value {key!r} is not a number and was not recorded")
    return out


def run_chain(
    model: torch.nn.Module,
    steps: Sequence[tuple[str, Any]],
    context: CompressionContext,
    ruleset: RuleSet | None = None,
    input_shape: Sequence[int] | None = None,
) -> tuple[torch.nn.Module, list[StageRecord]]:
    """Apply ``steps`` in order; return the compressed model and one record per measurement.

    ``ruleset`` and ``input_shape`` default to the context's. The model passed in is not
    modified.
    """
    ruleset = ruleset or context.ruleset
    shape = tuple(input_shape or context.input_shape or ())
    if ruleset is None or not shape:
        raise CompressionError(
            "run_chain needs a rule set and an input shape (C, F, T), from its arguments or the "
            "compression context"
        )
    context.ruleset = ruleset
    context.input_shape = shape
    forms = CountedForms(model, ruleset, shape)
    report = forms.unfused
    current = ComplexitySummary.from_report(report)
    context.notes = []
    metrics = _metrics(context, model)
    records = [
        StageRecord(
            index=0, name="uncompressed", ruleset=ruleset.name, after=current, metrics=metrics,
            notes=list(context.notes),
        )
    ]
    for index, (name, compressor) in enumerate(steps, start=1):
        context.notes = []
        if context.progress is not None:
            context.progress(f"compression stage {index}/{len(steps)}: {name}")
        start = time.perf_counter()
        result = compressor.compress(model, context)
        seconds = time.perf_counter() - start
        if not isinstance(result, torch.nn.Module):
            raise CompressionError(
                f"compressor {name!r} returned a {type(result).__name__}, not a torch.nn.Module"
            )
        model = result
        report = forms.measure(model)
        after = ComplexitySummary.from_report(report)
        records.append(
            StageRecord(
                index=index,
                name=name,
                params=dict(getattr(compressor, "params", {}) or {}),
                ruleset=ruleset.name,
                before=current,
                after=after,
                metrics=_metrics(context, model),
                seconds=round(seconds, 3),
                notes=list(context.notes),
            )
        )
        current = after
    context.notes = []
    context.report = report
    return model, records


def build_steps(
    refs: Sequence[Any],
    resolve: Callable[[str], Callable[..., Any]] | Mapping[str, Callable[..., Any]] | None = None,
) -> list[tuple[str, Any]]:
    """``[(name, compressor)]`` from a system's ``compressors`` list.

    Each ref is a :class:`ascbench.systems.ComponentRef`, a ``{"name", "params"}`` mapping or
    a ``(name, params)`` pair. ``resolve`` maps a name to its factory: a mapping, a callable,
    or None for the built-in compressors (:data:`ascbench.compressors.BUILTIN`).
    """
    from ascbench.compressors import BUILTIN

    steps = []
    for ref in refs:
        if hasattr(ref, "name") and hasattr(ref, "params"):
            name, params = ref.name, dict(ref.params)
        elif isinstance(ref, Mapping):
            name, params = ref["name"], dict(ref.get("params") or {})
        else:
            name, params = ref[0], dict(ref[1] or {})
        steps.append((name, resolve_factory(name, resolve or BUILTIN)(**params)))
    check_order(steps)
    return steps


def check_order(steps: Sequence[tuple[str, Any]]) -> None:
    """Refuse a chain in which a compressor would get a model stored in a form it does not
    take (``accepts``/``makes``, :func:`~ascbench.compressors.base.storage_of`): int8 after
    fp16, pruning after int8. The model starts in float32; a compressor that declares neither
    (a plugin's own) takes any form and keeps it."""
    form, maker = "float32", None
    for name, compressor in steps:
        accepts = getattr(compressor, "accepts", None)
        if accepts is not None and form not in accepts:
            if maker is None:  # the model as built: only a compressor earlier could help
                previous, advice = STORAGE_MADE_BY[form], "a compressor making it must come first"
            else:
                previous, advice = maker[0], _reorder_advice(name, compressor, maker)
            raise CompressionError(
                "compressors " + " -> ".join(n for n, _ in steps) + ": "
                + refusal(name, accepts, form, previous, advice)
            )  # fmt: skip
        made = getattr(compressor, "makes", None)
        if made is not None and made != form:
            form, maker = made, (name, compressor, form)


def _reorder_advice(name: str, compressor: Any, maker: tuple[str, Any, str]) -> str:
    """Put ``name`` first where the two then work in that order, else drop one of them."""
    maker_name, maker_compressor, before = maker
    made = getattr(compressor, "makes", None) or before
    if before in compressor.accepts and made in getattr(maker_compressor, "accepts", (made,)):
        return f"put {name} before {maker_name}"
    return "drop one of them"


def resolve_factory(
    name: str, resolve: Callable[[str], Callable[..., Any]] | Mapping[str, Callable[..., Any]]
) -> Callable[..., Any]:
    """The compressor factory registered as ``name``."""
    if isinstance(resolve, Mapping):
        if name not in resolve:
            raise CompressionError(
                f"unknown compressor {name!r}; known: {', '.join(sorted(resolve))}"
            )
        return resolve[name]
    return resolve(name)
