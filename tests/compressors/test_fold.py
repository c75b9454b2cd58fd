"""fold_batchnorm: exact folds (with eps), the SP4ASC no-eps fold, and pair discovery."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ascbench.compressors import Affine, CompressionContext, FoldBatchNorm
from ascbench.compressors.base import CompressionError

from . import nets

CTX = CompressionContext(input_shape=nets.SHAPE)


def _fold(model, **params):
    return FoldBatchNorm(**params).compress(model, CTX).eval()


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Max abs difference relative to the output scale (at least 1)."""
    return ((a - b).abs().max() / b.abs().max().clamp_min(1.0)).item()


def _no_bn(model) -> bool:
    return not any(isinstance(m, _BatchNorm) for m in model.modules())


CONVS = {
    "conv2d_bias": lambda: nn.Conv2d(4, 6, 3, padding=1),
    "conv2d_nobias": lambda: nn.Conv2d(4, 6, 3, padding=1, bias=False),
    "grouped": lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2),
    "depthwise": lambda: nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False),
    "conv1d": lambda: nn.Conv1d(4, 6, 3),
}


@pytest.mark.parametrize("kind", sorted(CONVS))
def test_conv_bn_in_sequential_folds_exactly(kind):
    conv = CONVS[kind]()
    bn = nn.BatchNorm1d(6) if isinstance(conv, nn.Conv1d) else nn.BatchNorm2d(6)
    model = nets.randomize_bn(nn.Sequential(conv, bn)).eval()
    x = torch.randn(3, conv.in_channels, 9, 7) if isinstance(conv, nn.Conv2d) else torch.randn(
        3, conv.in_channels, 11
    )
    folded = _fold(model)
    assert _no_bn(folded)
    assert isinstance(folded[1], nn.Identity)
    assert _count(folded) == conv.weight.numel() + 6  # kernel + one bias per channel
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5
    assert isinstance(model[1], nn.BatchNorm2d | nn.BatchNorm1d)  # the input is untouched


def test_linear_batchnorm1d_folds_exactly():
    model = nets.randomize_bn(nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU())).eval()
    folded = FoldBatchNorm().compress(model, CompressionContext(input_shape=(5,)))
    x = torch.randn(4, 5)
    assert _no_bn(folded) and _count(folded) == 5 * 7 + 7
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_no_eps_fold_reproduces_sp4asc_formula():
    conv = nn.Conv2d(1, 4, 3, padding=1, bias=False)
    bn = nn.BatchNorm2d(4, eps=1e-3)
    model = nn.Sequential(conv, bn).eval()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.1, -0.2, 0.0, 0.3]))
        bn.running_var.copy_(torch.tensor([1e-3, 2.0, 5e-4, 1.0]))  # two tiny variances
        bn.weight.copy_(torch.tensor([1.0, 0.5, 2.0, 1.5]))
        bn.bias.copy_(torch.tensor([0.0, 0.1, -0.1, 0.2]))
    x = torch.randn(2, 1, 8, 8)
    exact = _fold(model, eps=True)
    sp4asc = _fold(model, eps=False)
    y = conv(x)
    shape = (1, -1, 1, 1)
    without_eps = (y - bn.running_mean.view(shape)) / bn.running_var.sqrt().view(shape) * (
        bn.weight.view(shape)
    ) + bn.bias.view(shape)
    assert _rel_diff(exact(x), model(x)) <= 1e-6
    assert _rel_diff(sp4asc(x), without_eps) <= 1e-6
    # the two folds differ by the factor sqrt((var + eps) / var) on the centred output
    ratio = (sp4asc(x) - bn.bias.view(shape)) / (exact(x) - bn.bias.view(shape))
    expected = ((bn.running_var + bn.eps) / bn.running_var).sqrt()
    per_channel = ratio.transpose(0, 1).reshape(4, -1).median(dim=1).values
    assert torch.allclose(per_channel, expected, rtol=1e-4)
    assert (sp4asc(x) - model(x)).abs().max().item() > 0.1


def test_no_eps_fold_refuses_zero_variance():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)).eval()
    model[1].running_var.zero_()
    with pytest.raises(CompressionError, match="eps: true"):
        _fold(model, eps=False)
    _fold(model, eps=True)  # the exact fold is fine


@pytest.mark.parametrize("declare", [True, False], ids=["declared", "traced"])
def test_sp4asc_sum_of_depthwise_convs_and_input_bn(declare):
    model = nets.randomize_bn(nets.TinySP4ASC(declare=declare)).eval()
    x = nets.batch()
    folded = _fold(model)
    assert _no_bn(folded)
    assert isinstance(folded.bn0, Affine) and folded.bn0.weight.shape == (nets.SHAPE[1],)
    for block in (folded.conv1, folded.conv2):
        assert block.sp_conv1.bias is None and block.sp_conv2.bias is not None  # shift on (1,3)
    # SP4ASC's folded count: 2F for the input affine, (cin + 6) * cout + cout per block
    head = 16 * 16 + 16 + 16 * 10 + 10
    assert _count(folded) == 2 * nets.SHAPE[1] + (1 + 6) * 8 + 8 + (8 + 6) * 16 + 16 + head
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_sum_fold_without_eps_matches_sp4asc_merge_conv_bn():
    model = nets.randomize_bn(nets.TinySP4ASC(), var_range=(1e-4, 1e-3)).eval()
    reference = copy.deepcopy(model)
    with torch.no_grad():  # valeoai/SP4ASC merge_conv_bn, re-stated
        for block in (reference.conv1, reference.conv2):
            scale = block.bn.weight / torch.sqrt(block.bn.running_var)
            bias = block.bn.bias - scale * block.bn.running_mean
            block.sp_conv1.weight.mul_(scale[:, None, None, None])
            block.sp_conv2.weight.mul_(scale[:, None, None, None])
            block.sp_conv2.bias = nn.Parameter(bias)
            block.bn = nn.Identity()
        bn0 = reference.bn0
        scale = bn0.weight / torch.sqrt(bn0.running_var)
        reference.bn0 = Affine(scale.numel(), scale, bn0.bias - scale * bn0.running_mean)
    x = nets.batch()
    folded = _fold(model, eps=False)
    assert _rel_diff(folded(x), reference(x)) <= 1e-6
    assert _rel_diff(_fold(model, eps=True)(x), model(x)) <= 1e-6
    assert _rel_diff(folded(x), model(x)) > 1e-3  # the no-eps fold differs visibly here


def test_untraceable_model_uses_declared_pairs():
    model = nets.randomize_bn(nets.Untraceable(declare=True)).eval()
    x = nets.batch()
    folded = _fold(model)
    assert isinstance(folded.bn, nn.Identity) and folded.conv.bias is not None
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_pairs_parameter_declares_like_the_model():
    model = nets.randomize_bn(nets.Untraceable(declare=False)).eval()
    folded = _fold(model, pairs=[["conv", "bn"]])
    assert isinstance(folded.bn, nn.Identity)
    x = nets.batch()
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_undeclared_untraceable_bn_becomes_affine_and_stays_exact():
    model = nets.randomize_bn(nets.Untraceable(declare=False)).eval()
    ctx = CompressionContext(input_shape=nets.SHAPE)
    folded = FoldBatchNorm().compress(model, ctx).eval()
    assert isinstance(folded.bn, Affine)
    assert any("not traceable" in n for n in ctx.notes)
    x = nets.batch()
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5
    kept = _fold(model, standalone="keep")
    assert isinstance(kept.bn, nn.BatchNorm2d)


def test_conv_output_used_twice_is_not_folded_into_the_conv():
    model = nets.randomize_bn(nets.SkipAroundBN()).eval()
    folded = _fold(model)
    assert isinstance(folded.bn, Affine)  # folding into conv would change the skip path
    x = nets.batch()
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_linear_on_3d_input_is_not_paired_with_batchnorm1d():
    model = nets.randomize_bn(nets.LinearOnSequence()).eval()
    folded = _fold(model)
    assert isinstance(folded.bn, Affine)
    x = nets.batch()
    assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_bad_pair_names_are_reported():
    model = nets.Untraceable(declare=False)
    with pytest.raises(CompressionError, match="'nope'"):
        _fold(model, pairs=[["nope", "bn"]])
    with pytest.raises(CompressionError, match="not a batch norm"):
        _fold(model, pairs=[["conv", "head"]])
    with pytest.raises(CompressionError, match="valid parameters"):
        FoldBatchNorm(epsilon=True)


def test_native_arithmetic_reproduces_a_float32_reference_fold_bit_for_bit():
    import torch
    from torch import nn

    from ascbench.compressors import fold_batchnorm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4)).eval()
    with torch.no_grad():
        bn = model[1]
        bn.running_var.copy_(torch.tensor([9.3e-11, 0.5, 1.7, 3.1]))
        bn.running_mean.uniform_(-1, 1)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    # the reference: everything in float32, no eps (the SP4ASC authors' merge)
    scale = bn.weight / torch.sqrt(bn.running_var)
    ref_w = model[0].weight * scale.view(-1, 1, 1, 1)
    ref_b = bn.bias - scale * bn.running_mean
    native, _ = fold_batchnorm(clone(model), eps=False, arithmetic="native")
    assert torch.equal(native[0].weight, ref_w) and torch.equal(native[0].bias, ref_b)
    wide, _ = fold_batchnorm(clone(model), eps=False)
    assert not torch.equal(wide[0].weight, ref_w)  # float64 rounds differently somewhere
    assert torch.allclose(wide[0].weight, ref_w, rtol=1e-6)


def clone(model):
    import copy

    return copy.deepcopy(model)
