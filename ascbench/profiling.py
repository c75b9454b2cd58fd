"""Profiling a system as it would be submitted: build it, compress it, measure it."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from ascbench.complexity import ComplexityReport, measure
from ascbench.errors import AscbenchError
from ascbench.plugins import Registry
from ascbench.rules import RuleSet
from ascbench.systems import System


class SystemProfile(BaseModel):
    """One system's complexity under one rule set (or why it could not be measured)."""

    model_config = ConfigDict(extra="forbid")

    system: str
    plugin: str
    ruleset: str
    status: str = Field(description="'pass', 'fail', 'ambiguous' or 'error'.")
    error: str | None = None
    complexity: ComplexityReport | None = None


class ProfileResult(BaseModel):
    """What ``ascbench profile --json`` writes."""

    model_config = ConfigDict(extra="forbid")

    ascbench_version: str
    ruleset: RuleSet
    systems: list[SystemProfile]


def build_frontend(registry: Registry, system: System):
    return registry.get("frontend", system.frontend.name).build(**system.frontend.params)


def build_model(
    registry: Registry, system: System, input_shape, num_classes: int
) -> torch.nn.Module:
    entry = registry.get("model", system.model.name)
    model = entry.build(
        num_classes=num_classes, input_shape=tuple(input_shape), **system.model.params
    )
    if not isinstance(model, torch.nn.Module):
        raise AscbenchError(
            f"model '{entry.name}' (plugin '{entry.plugin}') returned {type(model).__name__}, "
            "not a torch.nn.Module"
        )
    return model


def feature_shape(registry: Registry, system: System, ruleset: RuleSet) -> tuple[int, int, int]:
    return build_frontend(registry, system).output_shape(ruleset.clip_seconds)


def profile_system(registry: Registry, system: System, ruleset: RuleSet) -> SystemProfile:
    """Measure ``system``'s model on one clip of the rule set's length.

    The model is built untrained: parameter and MAC counts do not depend on training, but
    non-zero counts only mean something on trained weights.
    """
    try:
        shape = feature_shape(registry, system, ruleset)
        model = build_model(registry, system, shape, ruleset.num_classes)
        report = measure(model, ruleset, shape)
    except AscbenchError as exc:
        return SystemProfile(
            system=system.name,
            plugin=system.plugin,
            ruleset=ruleset.name,
            status="error",
            error=str(exc),
        )
    except Exception as exc:  # a plugin's bug must not stop the other systems
        first = str(exc).splitlines()[0] if str(exc) else ""
        return SystemProfile(
            system=system.name,
            plugin=system.plugin,
            ruleset=ruleset.name,
            status="error",
            error=f"{type(exc).__name__}: {first}",
        )
    if system.compressors:
        report.flags.append(
            "compressor chain not applied by `profile` (untrained weights): "
            + " -> ".join(c.name for c in system.compressors)
        )
    return SystemProfile(
        system=system.name,
        plugin=system.plugin,
        ruleset=ruleset.name,
        status=report.status,
        complexity=report,
    )
