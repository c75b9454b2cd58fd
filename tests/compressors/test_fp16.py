"""fp16: every stored value takes 2 bytes, the forward pass runs in float32 on CPU."""

from __future__ import annotations

import copy

import pytest
import torch

from ascbench.complexity import measure
from ascbench.compressors import CompressionContext, Float16Storage, Fp16, Int8Static
from ascbench.compressors.base import CompressionError
from ascbench.plugins import load_registry

from . import nets


@pytest.fixture(scope="module")
def dcase2021():
    return load_registry(entry_points=False, environment=False).ruleset("dcase2021")


def _model():
    return nets.randomize_bn(nets.ConvBNReLUNet()).eval()


def test_bytes_halve_exactly(dcase2021):
    model = _model()
    before = measure(model, dcase2021, nets.SHAPE)
    half = Fp16().compress(model, CompressionContext())
    after = measure(half, dcase2021, nets.SHAPE)
    # dcase2021 counts non-zero values by stored dtype, BN running statistics included
    assert before.values_by_dtype == {"float32": before.parameters}
    assert after.values_by_dtype == {"float16": before.parameters}
    assert after.parameters == before.parameters
    assert after.bytes * 2 == before.bytes == 4 * before.nonzero_parameters
    assert after.macs == before.macs


def test_outputs_are_the_float32_model_with_values_rounded_to_float16():
    model = _model()
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for t in list(rounded.parameters()) + list(rounded.buffers()):
            if t.is_floating_point():
                t.copy_(t.half().float())
    half = Fp16().compress(model, CompressionContext())
    x = nets.batch()
    out = half(x)
    assert out.dtype == torch.float32
    assert torch.equal(out, rounded(x))
    assert not torch.equal(out, model(x))  # rounding did change something
    assert all(p.dtype == torch.float16 for p in half.parameters())
    assert next(model.parameters()).dtype == torch.float32  # the input model is untouched


def test_buffers_can_stay_float32(dcase2021):
    half = Fp16(buffers=False).compress(_model(), CompressionContext())
    assert isinstance(half, Float16Storage)
    running = [b for n, b in half.named_buffers() if n.endswith("running_var")]
    assert running and all(b.dtype == torch.float32 for b in running)
    report = measure(half, dcase2021, nets.SHAPE)
    bn_stats = sum(b.numel() for b in running) * 2
    assert report.values_by_dtype["float32"] == bn_stats


def test_fp16_then_int8_is_refused():
    half = Fp16().compress(_model(), CompressionContext())
    ctx = CompressionContext(calibration=nets.calibration(1))
    with pytest.raises(CompressionError, match="int8_static cannot follow fp16"):
        Int8Static().compress(half, ctx)
