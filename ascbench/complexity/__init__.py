"""Complexity measurement: parameters, non-zero parameters, bytes and MACs under a rule set.

:func:`measure` is the one entry point. It never changes the model it is given: it works on a
copy in eval mode, with pruning masks baked in, at the rule set's batch size, on the model
input after feature extraction.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict

import fvcore
import torch

from ascbench.complexity.macs import MacCount, count_macs
from ascbench.complexity.report import (
    ComplexityReport,
    ComplexitySummary,
    LayerComplexity,
    ambiguity_flags,
)
from ascbench.complexity.tensors import (
    CountedTensor,
    bake_pruning_masks,
    counted_tensors,
    is_quantized_module,
    size_of,
)
from ascbench.rules import RuleSet

__all__ = [
    "ComplexityReport",
    "ComplexitySummary",
    "CountedTensor",
    "LayerComplexity",
    "MacCount",
    "count_macs",
    "counted_tensors",
    "measure",
]


def _counter_name() -> str:
    from ascbench import __version__

    return f"ascbench {__version__} (fvcore {getattr(fvcore, '__version__', '?')} trace)"


def measure(
    model: torch.nn.Module,
    ruleset: RuleSet,
    input_shape: tuple[int, ...] | list[int],
    *,
    mac_model: torch.nn.Module | None = None,
    seed: int = 0,
    reference: bool = True,
) -> ComplexityReport:
    """Measure ``model`` under ``ruleset`` for one clip whose features are ``input_shape``.

    ``input_shape`` is ``(channels, freq, time)`` of one clip (no batch dimension).
    ``mac_model`` is the float model to trace for MACs when ``model`` itself cannot be traced
    (e.g. a torch.ao quantized model); by default ``model`` is traced. ``reference=False``
    skips fvcore's cross-check count (``fvcore_macs`` is then 0).
    """
    flags: list[str] = []
    model, baked = bake_pruning_masks(model)
    if baked:
        flags.append(
            f"pruning masks on {len(baked)} tensors were baked in before counting (zeros count as "
            "the saved model stores them); NeSsi-torch on the masked model would count only the "
            "kept weights"
        )
    tensors = counted_tensors(model, ruleset.parameters)
    params, nonzero, nbytes = size_of(tensors, ruleset.parameters)
    by_dtype: Counter = Counter()
    for t in tensors:
        by_dtype[t.dtype] += t.numel

    shape = (ruleset.macs.batch_size, *[int(s) for s in input_shape])
    traced = mac_model if mac_model is not None else model
    macs = _count_macs(traced, ruleset, shape, seed, reference)
    holders = {t.module for t in tensors}
    flags += _mac_flags(macs, ruleset, holders, traced_form=mac_model is not None)
    if mac_model is not None:
        flags.append("MACs were traced on the float model the compressed model was made from")

    layers = _layers(model, tensors, ruleset, macs)
    measured = {
        "parameters": params,
        "nonzero_parameters": nonzero,
        "bytes": nbytes,
        "macs": macs.total_counted + macs.total_functional,
    }
    checks = ruleset.check(measured)
    flags += ambiguity_flags(checks)
    return ComplexityReport(
        ruleset=ruleset.name,
        convention=ruleset.macs.name,
        counter=_counter_name(),
        clip_seconds=ruleset.clip_seconds,
        input_shape=list(shape),
        parameters=params,
        nonzero_parameters=nonzero,
        bytes=nbytes,
        macs=measured["macs"],
        macs_official=macs.total_counted,
        functional_macs=macs.total_functional,
        fvcore_macs=macs.fvcore_total,
        fvcore_by_operator=macs.fvcore_by_operator,
        values_by_dtype=dict(by_dtype),
        layers=layers,
        flags=flags,
        checks=checks,
    )


def _count_macs(
    model: torch.nn.Module,
    ruleset: RuleSet,
    shape: tuple[int, ...],
    seed: int,
    reference: bool,
) -> MacCount:
    """MACs of a copy of ``model`` (eval mode, pruning masks baked in, float unless quantized)
    on a seeded random input of ``shape``."""
    traced = copy.deepcopy(model).eval()
    traced, _ = bake_pruning_masks(traced)
    traced = traced.float() if not _is_quantized(traced) else traced
    generator = torch.Generator().manual_seed(seed)
    example = torch.randn(shape, generator=generator)
    return count_macs(traced, example, ruleset.macs, reference=reference)


def _mac_flags(
    macs: MacCount, ruleset: RuleSet, holders: set[str], traced_form: bool = False
) -> list[str]:
    """What to flag about a MAC count: functional MACs, ops without a rule, and modules
    holding counted parameters (``holders``) that the forward pass never called.

    ``traced_form``: the MACs were traced on the float form a compressed model was made from
    (a torch.fx graph for FX int8). torch.fx inlines modules it does not keep as leaves: such
    a module ran (it is not "never called"), and in the eager float model the official counter
    sees it as the module it is."""
    flags: list[str] = []
    uncalled = [m for m in macs.uncalled_modules if m in holders]
    inlined = sorted(set(uncalled) & set(macs.inlined_modules)) if traced_form else []
    if macs.total_functional:
        where = ", ".join(sorted(n or "(model)" for n in macs.functional))
        counted, total = macs.total_counted, macs.total_counted + macs.total_functional
        official = f"the official {ruleset.macs.name} counter"
        why = (
            f": torch.fx inlined {', '.join(inlined)} when tracing this model's float form, so "
            f"{official} reports {counted:,} on that form and {total:,} on the eager float "
            "model, where they are modules"
            if inlined
            else f"; {official} would report {counted:,} instead of {total:,}"
        )
        flags.append(
            f"{macs.total_functional:,} MACs run in functional ops outside counted leaf modules "
            f"({where}){why}"
        )
    if macs.unsupported:
        ops = ", ".join(f"{k} x{v}" for k, v in sorted(macs.unsupported.items()))
        flags.append(f"ops without a MAC rule were counted as 0: {ops}")
    uncalled = [m for m in uncalled if m not in inlined]  # inlined modules did run
    if uncalled:
        flags.append(
            "modules never called in the forward pass (parameters still counted): "
            + ", ".join(uncalled)
        )
    return flags


def _is_quantized(model: torch.nn.Module) -> bool:
    return any(is_quantized_module(m) for m in model.modules())


def _by_layer(per_module: dict[str, Counter], modules: dict) -> dict[str, Counter]:
    """MACs per module of the counted model, from MACs per module of the traced one (the float
    model a quantized one was made from): a traced module counts for the counted model's module
    of the same name, or the one that wraps it under a prefix (``layer1.conv`` in
    ``model.layer1.conv``), or else for the nearest ancestor of either (a float
    ``features.0.0`` inside what quantization fused into ``features.0``)."""
    out: dict[str, Counter] = defaultdict(Counter)
    for name, ops in per_module.items():
        out[_owner(name, modules)].update(ops)
    return out


def _owner(name: str, modules: dict) -> str:
    probe = name
    while probe:
        if probe in modules:
            return probe
        wrapped = [m for m in modules if m.endswith("." + probe)]
        if len(wrapped) == 1:
            return wrapped[0]
        probe = probe.rpartition(".")[0]
    return ""


def _layers(
    model: torch.nn.Module, tensors: list[CountedTensor], ruleset: RuleSet, macs: MacCount
) -> list[LayerComplexity]:
    grouped: dict[str, list[CountedTensor]] = defaultdict(list)
    for t in tensors:
        grouped[t.module].append(t)
    modules = dict(model.named_modules())
    counted_in = _by_layer(macs.counted, modules)
    functional_in = _by_layer(macs.functional, modules)
    rows = []
    for name, module in modules.items():
        counted = counted_in.get(name, Counter())
        functional = functional_in.get(name, Counter())
        own = grouped.get(name, [])
        if not own and not counted and not functional:
            continue
        params, nonzero, nbytes = size_of(own, ruleset.parameters)
        rows.append(
            LayerComplexity(
                name=name or "(model)",
                type=type(module).__name__,
                parameters=params,
                nonzero_parameters=nonzero,
                bytes=nbytes,
                macs=sum(counted.values()),
                functional_macs=sum(functional.values()),
                ops={k: int(v) for k, v in (counted + functional).items()},
            )
        )
    return rows
