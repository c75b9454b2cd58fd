"""prune_l1: exact non-zero counts by amount, target count and byte budget; masks baked."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from ascbench.complexity import measure
from ascbench.compressors import CompressionContext, PruneL1
from ascbench.compressors.base import CompressionError
from ascbench.compressors.prune import prunable_tensors
from ascbench.plugins import load_registry

from . import nets


@pytest.fixture(scope="module")
def rules():
    registry = load_registry(entry_points=False, environment=False)
    return {name: registry.ruleset(name) for name in ("dcase2021", "dcase2022")}


def _model():
    torch.manual_seed(0)
    return nets.randomize_bn(nets.ConvBNReLUNet()).eval()


def _weights(model):
    return [getattr(m, n) for _, m, n in prunable_tensors(model)]


def _zeros(tensors) -> int:
    return sum(int((t == 0).sum()) for t in tensors)


def test_global_amount_zeroes_exactly_that_fraction():
    model = _model()
    pruned = PruneL1(amount=0.3).compress(model, CompressionContext())
    total = sum(t.numel() for t in _weights(pruned))
    assert _zeros(_weights(pruned)) == round(0.3 * total)
    # smallest magnitudes went first: every kept weight is at least every pruned one
    kept = torch.cat([t.flatten() for t in _weights(pruned)])
    original = torch.cat([t.flatten() for t in _weights(model)])
    assert original[kept == 0].abs().max() <= original[kept != 0].abs().min()
    assert all(m.bias.count_nonzero() == m.bias.numel() for _, m, _ in prunable_tensors(pruned))
    assert _zeros(_weights(model)) == 0  # the input model is untouched


def test_layer_amount_prunes_each_layer_alike():
    pruned = PruneL1(amount=0.4, scope="layer").compress(_model(), CompressionContext())
    for t in _weights(pruned):
        assert int((t == 0).sum()) == round(0.4 * t.numel())


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_target_nonzero_is_met_exactly(rules, scope):
    model = _model()
    before = measure(model, rules["dcase2021"], nets.SHAPE)
    target = before.nonzero_parameters - 777
    ctx = CompressionContext(ruleset=rules["dcase2021"])
    pruned = PruneL1(target_nonzero=target, scope=scope).compress(model, ctx)
    # dcase2021 counts BN running statistics too; the target is the model's total
    assert measure(pruned, rules["dcase2021"], nets.SHAPE).nonzero_parameters == target
    assert any(f"-> {target:,}" in n for n in ctx.notes)


def test_existing_zeros_count_toward_the_target(rules):
    model = _model()
    with torch.no_grad():
        model.fc.weight[:, :5] = 0  # 50 zeros already there
    before = measure(model, rules["dcase2021"], nets.SHAPE).nonzero_parameters
    ctx = CompressionContext(ruleset=rules["dcase2021"])
    pruned = PruneL1(target_nonzero=before - 100).compress(model, ctx)
    assert measure(pruned, rules["dcase2021"], nets.SHAPE).nonzero_parameters == before - 100


def test_byte_budget_under_actual_dtype_bytes(rules):
    model = _model()
    before = measure(model, rules["dcase2021"], nets.SHAPE)
    budget = before.bytes - 1001  # not a multiple of 4: rounds down to whole fp32 values
    ctx = CompressionContext(ruleset=rules["dcase2021"])
    after = measure(PruneL1(target_bytes=budget).compress(model, ctx), rules["dcase2021"],
                    nets.SHAPE)
    assert after.bytes <= budget < after.bytes + 4
    assert after.bytes == before.bytes - 1004


def test_byte_budget_with_bytes_per_value_for_a_later_int8_stage(rules):
    model = _model()
    ctx = CompressionContext(ruleset=rules["dcase2021"])
    budget = measure(model, rules["dcase2021"], nets.SHAPE).nonzero_parameters - 400
    pruned = PruneL1(target_bytes=budget, bytes_per_value=1).compress(model, ctx)
    assert measure(pruned, rules["dcase2021"], nets.SHAPE).nonzero_parameters == budget


def test_byte_budget_is_refused_when_zeros_count(rules):
    ctx = CompressionContext(ruleset=rules["dcase2022"])
    with pytest.raises(CompressionError, match="counts zero-valued"):
        PruneL1(target_bytes=1000).compress(_model(), ctx)


def test_unreachable_target_is_an_error(rules):
    ctx = CompressionContext(ruleset=rules["dcase2021"])
    with pytest.raises(CompressionError, match="unreachable"):
        PruneL1(target_nonzero=10).compress(_model(), ctx)


def test_include_bias_prunes_biases_too():
    pruned = PruneL1(amount=0.5, include_bias=True).compress(_model(), CompressionContext())
    tensors = [getattr(m, n) for _, m, n in prunable_tensors(pruned, include_bias=True)]
    assert _zeros(tensors) == round(0.5 * sum(t.numel() for t in tensors))


def test_finetune_runs_with_masks_attached_then_masks_are_baked(rules):
    calls = []

    def finetune(model):
        masked = [m for m in model.modules() if hasattr(m, "weight_mask")]
        calls.append(len(masked))
        copy.deepcopy(model)  # what an EMA of the weights does first
        with torch.no_grad():  # an update that would revive every pruned weight
            for m in masked:
                m.weight_orig.add_(0.5)
        return model

    model = _model()
    target = measure(model, rules["dcase2021"], nets.SHAPE).nonzero_parameters - 500
    ctx = CompressionContext(ruleset=rules["dcase2021"], finetune=finetune)
    pruned = PruneL1(target_nonzero=target).compress(model, ctx)
    assert calls == [3]  # two convs and the linear
    keys = pruned.state_dict().keys()
    assert not any(k.endswith(("_orig", "_mask")) for k in keys)
    assert not any(isinstance(h, prune.BasePruningMethod)
                   for m in pruned.modules() for h in m._forward_pre_hooks.values())
    assert measure(pruned, rules["dcase2021"], nets.SHAPE).nonzero_parameters == target
    assert any("fine-tuned" in n for n in ctx.notes)


def test_masks_lost_by_finetuning_are_reapplied(rules):
    def careless(model):
        fresh = copy.deepcopy(model)  # a trainer that returns another model, masks removed
        for m in fresh.modules():
            if hasattr(m, "weight_mask"):
                prune.remove(m, "weight")
                with torch.no_grad():
                    m.weight.add_(0.5)
        return fresh

    model = _model()
    target = measure(model, rules["dcase2021"], nets.SHAPE).nonzero_parameters - 300
    ctx = CompressionContext(ruleset=rules["dcase2021"], finetune=careless)
    pruned = PruneL1(target_nonzero=target).compress(model, ctx)
    assert measure(pruned, rules["dcase2021"], nets.SHAPE).nonzero_parameters == target
    assert any("zeroed again" in n for n in ctx.notes)


def test_skipping_finetuning_is_noted():
    ctx = CompressionContext()
    PruneL1(amount=0.1).compress(_model(), ctx)
    assert any("fine-tuning skipped" in n for n in ctx.notes)


def test_parameters_are_validated():
    with pytest.raises(CompressionError, match="exactly one"):
        PruneL1(amount=0.1, target_nonzero=10)
    with pytest.raises(CompressionError, match="exactly one"):
        PruneL1()
    with pytest.raises(CompressionError, match="no conv or linear"):
        PruneL1(amount=0.1).compress(nn.Sequential(nn.ReLU()), CompressionContext())
