"""Counting a compressed model before or after layer fusion, as the rule set says.

Folding batch norm into the convolution before it (``fold_batchnorm``, the fusion step of
``int8_static``) changes what the counters see without changing what the model computes: under
torchinfo a batch norm costs 2 parameters and 2 MACs per channel, the bias it becomes costs 1
parameter per channel and 1 MAC per output element. DCASE 2024 counts the model before fusion,
DCASE 2022 (NeSsi on the TFLite file) and 2025 (the submitted model) after it
(:attr:`ascbench.rules.RuleSet.counted_on`).

A compressor stage is a fusion when the model keeps the same convolution and linear layers
(same weight shapes) and loses batch-norm layers. Under a "before" rule set every stage from
the first fusion on is counted as the model that entered that fusion, stored in the precision
of the deployed model (the dtype that holds most of its values).
"""

from __future__ import annotations

import torch

from ascbench.complexity.report import ComplexityReport, ambiguity_flags
from ascbench.rules import DTYPE_BYTES, RuleSet


def batch_norm_layers(model: torch.nn.Module) -> int:
    """How many batch-norm layers ``model`` has (float or quantized)."""
    return sum(1 for m in model.modules() if "BatchNorm" in type(m).__name__)


def weight_layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """The kind and weight shape of every convolution and linear layer, in module order."""
    layout = []
    for module in model.modules():
        kind = type(module).__name__
        if not any(k in kind for k in ("Conv", "Linear")):
            continue
        weight = getattr(module, "weight", None)
        if callable(weight) and not isinstance(weight, torch.Tensor):
            weight = weight()  # a quantized module's packed weight
        if isinstance(weight, torch.Tensor):
            layout.append(("conv" if "Conv" in kind else "linear", tuple(weight.shape)))
    return layout


def is_fusion(before: torch.nn.Module, after: torch.nn.Module) -> bool:
    """Whether ``after`` is ``before`` with batch norm folded into its layers."""
    return batch_norm_layers(after) < batch_norm_layers(before) and weight_layout(
        after
    ) == weight_layout(before)


def deployed_precision(report: ComplexityReport) -> str:
    """The dtype that holds most of a measured model's values (its storage precision)."""
    if not report.values_by_dtype:
        return "float32"
    return max(sorted(report.values_by_dtype), key=lambda d: report.values_by_dtype[d])


def count_before_fusion(
    deployed: ComplexityReport, unfused: ComplexityReport, ruleset: RuleSet
) -> ComplexityReport:
    """The report a "before fusion" rule set counts: ``unfused``'s parameters and MACs, its
    values stored in the deployed model's precision, checked against ``ruleset``."""
    convention = ruleset.parameters
    dtype = convention.storage_dtype or deployed_precision(deployed)
    per_value = DTYPE_BYTES.get(dtype, 4)

    def stored(parameters: int, nonzero: int) -> int:
        return (parameters if convention.count_zeros else nonzero) * per_value

    nbytes = stored(unfused.parameters, unfused.nonzero_parameters)
    layers = [
        layer.model_copy(update={"bytes": stored(layer.parameters, layer.nonzero_parameters)})
        for layer in unfused.layers
    ]
    checks = ruleset.check(
        {
            "parameters": unfused.parameters,
            "nonzero_parameters": unfused.nonzero_parameters,
            "bytes": nbytes,
            "macs": unfused.macs,
        }
    )
    note = (
        f"counted before layer fusion, as {ruleset.name} requires: the model before fusion "
        f"({unfused.parameters:,} parameters, {unfused.macs:,} MACs) stored as {dtype} "
        f"({per_value} B per value); the deployed model measures {deployed.parameters:,} "
        f"parameters, {deployed.bytes:,} B, {deployed.macs:,} MACs"
    )
    kept = [f for f in unfused.flags if "ambiguous margin" not in f]
    return unfused.model_copy(
        update={
            "bytes": nbytes,
            "values_by_dtype": {dtype: unfused.parameters},
            "layers": layers,
            "checks": checks,
            "flags": [note, *kept, *ambiguity_flags(checks)],
        }
    )


def note_after_fusion(deployed: ComplexityReport, unfused: ComplexityReport, ruleset: RuleSet):
    """``deployed`` with a flag that it was counted after fusion, and what fusion changed."""
    note = (
        f"counted after layer fusion, as {ruleset.name} counts the deployed model; before "
        f"fusion it measured {unfused.parameters:,} parameters and {unfused.macs:,} MACs"
    )
    return deployed.model_copy(update={"flags": [*deployed.flags, note]})
