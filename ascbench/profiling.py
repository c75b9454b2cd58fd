"""Profiling a system as it would be submitted: build it, compress it, measure it."""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from ascbench.build import BuiltSystem, build_system
from ascbench.complexity import ComplexityReport
from ascbench.errors import AscbenchError, one_line
from ascbench.plugins import Registry
from ascbench.rules import RuleSet
from ascbench.systems import System


class StageSummary(BaseModel):
    """Complexity after one stage of the compressor chain ('uncompressed' first)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    parameters: int
    nonzero_parameters: int
    bytes: int
    macs: int
    status: str
    notes: list[str] = Field(default_factory=list)


class SystemProfile(BaseModel):
    """One system's complexity under one rule set (or why it could not be measured)."""

    model_config = ConfigDict(extra="forbid")

    system: str
    plugin: str
    ruleset: str
    status: str = Field(description="'pass', 'fail', 'ambiguous' or 'error'.")
    error: str | None = None
    complexity: ComplexityReport | None = None
    stages: list[StageSummary] = Field(
        default_factory=list, description="Complexity after each compressor stage."
    )


class ProfileResult(BaseModel):
    """What ``ascbench profile --json`` writes."""

    model_config = ConfigDict(extra="forbid")

    ascbench_version: str
    ruleset: RuleSet
    systems: list[SystemProfile]


def compress_without_data(
    built: BuiltSystem, ruleset: RuleSet
) -> tuple[torch.nn.Module, list, ComplexityReport]:
    """Apply a built system's compressor chain without data: random calibration batches, no
    fine-tuning. Returns the compressed model, the chain's stage records and the full report of
    the compressed model in the form the rule set counts (before or after layer fusion)."""
    from ascbench.build import check_logits
    from ascbench.compressors import CompressionContext, run_chain

    check_logits(built, ruleset.num_classes)
    shape = built.input_shape

    def calibration():
        # one batch: activation ranges set scales, which no count depends on; histogram
        # observers cost ~0.1 s a batch (profiling all systems took 19 s with four)
        generator = torch.Generator().manual_seed(0)
        yield torch.randn((8, *shape), generator=generator)

    context = CompressionContext(calibration=calibration, ruleset=ruleset, input_shape=shape)
    model, records = run_chain(built.model, built.compressor_steps, context, ruleset, shape)
    assert context.report is not None  # run_chain always sets it
    return model, records, context.report


def provisional_verdict(report: Any, ruleset: RuleSet) -> str | None:
    """Where ``ruleset`` counts non-zero values only, the verdict on untrained weights can
    flip once they are trained: batch-norm biases and running means start at 0 and rarely stay
    there. Returns a sentence naming each limit that passes on these weights but fails with
    every counted value non-zero (the trained worst case), or None when no verdict can flip."""
    if ruleset.parameters.count_zeros or report.nonzero_parameters >= report.parameters:
        return None
    scale = report.parameters / max(report.nonzero_parameters, 1)
    worst = {
        "nonzero_parameters": report.parameters,
        "bytes": round(report.bytes * scale),  # zeros hold the bytes of their own dtype
    }
    flips = []
    for limit in ruleset.limits:
        if limit.quantity not in worst:
            continue
        now = getattr(report, limit.quantity)
        then = worst[limit.quantity]
        if limit.check(now).status == "pass" and limit.check(then).status != "pass":
            flips.append(
                f"{limit.quantity} {now:,} passes {limit.maximum:,} on these weights but would be "
                f"about {then:,} with every value non-zero"
            )
    if not flips:
        return None
    return (
        "provisional verdict: " + "; ".join(flips) + " (trained batch-norm statistics and "
        "biases are rarely zero); `ascbench run` decides on the trained model"
    )


def profile_system(registry: Registry, system: System, ruleset: RuleSet) -> SystemProfile:
    """Measure ``system``'s model as it would be submitted, on one clip of the rule set's
    length: built untrained, then compressed by its chain with random calibration data and
    no fine-tuning. Parameter, byte and MAC counts do not depend on training; non-zero counts
    only mean something on trained weights.
    """
    stages: list[StageSummary] = []
    try:
        # seeded, so that non-zero counts (weights after pruning) repeat from run to run
        with torch.random.fork_rng():
            torch.manual_seed(0)
            built = build_system(system, registry, ruleset)
            _, records, report = compress_without_data(built, ruleset)
        stages = [
            StageSummary(
                name=r.name,
                parameters=r.after.parameters,
                nonzero_parameters=r.after.nonzero_parameters,
                bytes=r.after.bytes,
                macs=r.after.macs,
                status=r.after.status,
                notes=r.notes,
            )
            for r in records
        ]
    except AscbenchError as exc:
        return SystemProfile(
            system=system.name, plugin=system.plugin, ruleset=ruleset.name, status="error",
            error=str(exc),
        )  # fmt: skip
    except Exception as exc:  # a plugin's bug must not stop the other systems
        return SystemProfile(
            system=system.name, plugin=system.plugin, ruleset=ruleset.name, status="error",
            error=one_line(exc),  # names the plugin's line, e.g. its model's forward
        )  # fmt: skip
    if not ruleset.parameters.count_zeros:
        report.flags.append(
            f"{ruleset.name} counts non-zero values only, and these weights are untrained "
            "(batch-norm biases and running means start at 0): `ascbench run` measures the "
            "trained model"
        )
        flip = provisional_verdict(report, ruleset)
        if flip:
            report.flags.append(flip)
    if system.device_specific is not None:
        devices = system.device_specific.devices
        report.flags.append(
            f"one model per device ({', '.join(devices)}) besides the general model, each this "
            "architecture compressed by the same chain; each is counted on its own"
        )
    if system.compressors:
        report.flags.append(
            "compressed by "
            + " -> ".join(c.name for c in system.compressors)
            + " on untrained weights with random calibration data and no fine-tuning"
        )
    return SystemProfile(
        system=system.name, plugin=system.plugin, ruleset=ruleset.name, status=report.status,
        complexity=report, stages=stages,
    )  # fmt: skip
