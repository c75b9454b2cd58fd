"""Which systems the default ``ascbench run`` keeps: those whose model can fit the rule set."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ascbench.plugins import Registry
    from ascbench.rules import RuleSet
    from ascbench.systems import System


def over_fixed_limits(registry: Registry, system: System, ruleset: RuleSet) -> list[str]:
    """The rule set's parameter and MAC limits that ``system``'s untrained, uncompressed model
    exceeds, in words (empty: it can fit). Compression lowers bytes and non-zero counts, not
    the number of parameters or MACs, so a model over those limits cannot become compliant;
    the default ``ascbench run`` leaves such systems out (``--all`` keeps them). So it does a
    system with one model per recording device under a rule set that does not give the device
    at inference."""
    from ascbench.build import build_system
    from ascbench.complexity import counted_tensors, measure, size_of

    if system.device_specific is not None and not ruleset.device_at_inference:
        return [f"one model per device, but {ruleset.name} does not give the device at inference"]
    limits = [lim for lim in ruleset.limits if lim.quantity in ("parameters", "macs")]
    if not limits:
        return []
    built = build_system(system, registry, ruleset)
    parameters = size_of(counted_tensors(built.model, ruleset.parameters), ruleset.parameters)[0]
    over = [
        f"parameters {parameters:,} > {lim.maximum:,}"
        for lim in limits
        if lim.quantity == "parameters" and lim.check(parameters).status == "fail"
    ]
    if over:  # tracing for MACs takes about a second; the answer is known
        return over
    macs = measure(built.model, ruleset, built.input_shape, reference=False).macs
    return [
        f"macs {macs:,} > {lim.maximum:,}"
        for lim in limits
        if lim.quantity == "macs" and lim.check(macs).status == "fail"
    ]
