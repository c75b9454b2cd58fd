"""The shared CP-Mobile family (ascbench/models/cp_mobile.py): GRN, the two published
configurations' sizes, the block with and without GRN, and the upstream key layout."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from ascbench.models.cp_mobile import GRN, CPMobile, CPMobileBlock, make_divisible

#: The DCASE 2024/2025 baseline (CPJKU/dcase2024_task1_baseline): no GRN.
BASELINE_2024 = dict(
    channels_multiplier=1.8, expansion_rate=2.1, strides={"b3": (1, 2), "b4": (2, 1)}, grn=False
)
#: CP-Mobile as submitted to DCASE 2023 (fschmid56/cpjku_dcase23): GRN after every block sum.
CP_MOBILE_2023 = dict(
    channels_multiplier=2.3, expansion_rate=3.0, strides={"b2": (2, 2), "b4": (2, 1)}, grn=True
)


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_make_divisible_rounds_to_eights_and_steps_up_past_a_tenth_lost():
    assert [make_divisible(v) for v in (32, 57.6, 73.6, 103.68, 169.28, 3)] == [
        32, 56, 72, 104, 168, 8,
    ]  # fmt: skip
    assert make_divisible(11.9) == 16  # the nearest, 8, loses over 10 %: one step up


def test_grn_is_the_identity_at_init():
    grn = GRN()
    assert [name for name, _ in grn.named_parameters()] == ["gamma", "beta"]
    assert grn.gamma.shape == grn.beta.shape == (1,)
    x = torch.randn(2, 5, 7, 3)
    assert torch.equal(grn(x), x)


def test_grn_scales_by_the_channel_norm_over_its_mean_across_channels():
    grn = GRN()
    with torch.no_grad():
        grn.gamma.fill_(0.7)
        grn.beta.fill_(-0.2)
    x = torch.randn(2, 5, 7, 3)
    norms = x.pow(2).sum(dim=(2, 3), keepdim=True).sqrt()  # (2, 5, 1, 1)
    nx = norms / (norms.mean(dim=1, keepdim=True) + 1e-6)
    assert torch.allclose(grn(x), 0.7 * x * nx - 0.2 + x, atol=1e-6)


@pytest.mark.parametrize(
    ("config", "shape", "params", "tensors"),
    [(BASELINE_2024, (1, 256, 65), 61_148, 126), (CP_MOBILE_2023, (1, 256, 64), 126_952, 138)],
    ids=["dcase2024_baseline", "cp_mobile_2023"],
)
def test_the_published_configurations_have_their_published_sizes(config, shape, params, tensors):
    model = CPMobile(**config).eval()
    assert _parameters(model) == params
    assert len(model.state_dict()) == tensors  # the upstream state dicts' entry counts
    assert tuple(model(torch.randn(2, *shape)).shape) == (2, 10)


def test_without_grn_the_network_has_no_grn_and_two_parameters_less_per_block():
    with_grn = CPMobile(**{**BASELINE_2024, "grn": True})
    without = CPMobile(**BASELINE_2024)
    assert not any(isinstance(m, GRN) for m in without.modules())
    assert not any("after_block_norm" in key for key in without.state_dict())
    assert _parameters(with_grn) - _parameters(without) == 2 * 6  # six blocks
    block = CPMobileBlock(16, 16, 2.0, (1, 1), grn=False)
    assert block.after_block_norm is None
    assert not any(name.startswith("after_block_norm") for name, _ in block.named_parameters())


def test_a_pooled_shortcut_keeps_the_upstream_keys():
    block = CPMobileBlock(32, 32, 3.0, (2, 1))
    assert isinstance(block.shortcut, nn.Sequential)
    assert [type(m) for m in block.shortcut] == [nn.AvgPool2d, nn.Sequential]
    assert len(block.shortcut[1]) == 0
    assert block.shortcut[0].stride == (2, 1) and block.shortcut[0].kernel_size == 3
    keys = list(block.state_dict())
    assert not any(k.startswith("shortcut") for k in keys)  # no state of its own
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    expected = [
        *(f"block.{i}.{part}" for i in range(3) for part in ["0.weight"] + [f"1.{b}" for b in bn]),
        "after_block_norm.gamma",
        "after_block_norm.beta",
    ]
    assert keys == expected
    x = torch.randn(1, 32, 8, 8)
    assert tuple(block(x).shape) == (1, 32, 4, 8)
    # an unpooled identity shortcut is an empty Sequential; a changed channel count has none
    assert len(CPMobileBlock(32, 32, 3.0, (1, 1)).shortcut) == 0
    assert CPMobileBlock(32, 56, 3.0, (1, 1)).shortcut is None


def test_every_convolution_starts_kaiming_normal_fan_out_and_batch_norm_at_its_default():
    torch.manual_seed(0)
    model = CPMobile(**CP_MOBILE_2023)
    torch.manual_seed(0)
    again = CPMobile(**CP_MOBILE_2023)
    for (key, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), key
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
        assert not isinstance(m, nn.Conv2d) or m.bias is None
    head = model.feed_forward[0].weight  # 168 -> 10, fan_out 10: std sqrt(2 / 10)
    assert abs(float(head.detach().std()) - (2 / 10) ** 0.5) < 0.05


def test_the_models_package_imports_no_torch():
    code = "import sys, ascbench.models; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
