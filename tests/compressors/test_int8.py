"""int8_static: quantized weights count 1 B, their biases 4 B; the model stays evaluable."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ascbench.complexity import measure
from ascbench.compressors import (
    CompressionContext,
    FoldBatchNorm,
    Int8Static,
    QuantizedEager,
    float_reference,
    measure_compressed,
)
from ascbench.compressors.base import CompressionError
from ascbench.plugins import load_registry

from . import nets


@pytest.fixture(scope="module")
def rules():
    registry = load_registry(entry_points=False, environment=False)
    d21 = registry.ruleset("dcase2021")
    # bytes by actual dtype, zeros included, no buffers: the plain hand count
    every_value = d21.model_copy(
        update={
            "parameters": d21.parameters.model_copy(
                update={"count_zeros": True, "counted_buffers": []}
            )
        }
    )
    return {"dcase2022": registry.ruleset("dcase2022"), "every_value": every_value}


def _ctx(n=4):
    return CompressionContext(calibration=nets.calibration(n), input_shape=nets.SHAPE)


@pytest.mark.parametrize("mode", ["fx", "eager"])
def test_conv_linear_bytes_equal_the_hand_count(rules, mode):
    model = nets.ConvLinear().eval()
    quantized = Int8Static(mode=mode).compress(model, _ctx())
    report = measure_compressed(quantized, rules["every_value"], nets.SHAPE)
    weights = 8 * 1 * 3 * 3 + 10 * 8  # qint8, 1 B each
    biases = 8 + 10  # float32, 4 B each
    assert report.values_by_dtype == {"qint8": weights, "float32": biases}
    assert report.parameters == weights + biases
    assert report.bytes == weights * 1 + biases * 4 == 224
    # MACs are traced on the float model it came from: the same as the float model's
    float_macs = measure(model, rules["dcase2022"], nets.SHAPE).macs
    assert measure_compressed(quantized, rules["dcase2022"], nets.SHAPE).macs == float_macs
    # evaluable on float input, close to the float model
    x = nets.batch()
    out = quantized(x)
    assert out.dtype == torch.float32 and out.shape == (4, 10)
    assert (out - model(x)).abs().max().item() < 0.05 * model(x).abs().max().item() + 0.02


def test_eager_fuses_conv_bn_relu_and_wraps_in_stubs():
    model = nets.randomize_bn(nets.ConvBNReLUNet()).eval()
    quantized = Int8Static(mode="eager").compress(model, _ctx())
    assert isinstance(quantized, QuantizedEager)
    kinds = [type(m).__name__ for m in quantized.model.features]
    assert kinds.count("ConvReLU2d") == 2 and "BatchNorm2d" not in kinds
    reference = float_reference(quantized)
    assert reference is not None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in reference.modules())
    x = nets.batch()
    assert (quantized(x) - model(x)).abs().max().item() < 0.1 * model(x).abs().max().item()


@pytest.mark.parametrize("mode", ["fx", "eager"])
def test_layer_macs_of_a_fused_quantized_model_add_up(rules, mode):
    """Per-layer MACs of an int8 model (traced on the float model it came from, whose fused
    conv sits one level deeper or under another prefix) land on the quantized layers."""
    model = nets.randomize_bn(nets.ConvBNReLUNet()).eval()
    quantized = Int8Static(mode=mode).compress(model, _ctx())
    report = measure_compressed(quantized, rules["dcase2022"], nets.SHAPE)
    by_layer = {layer.name: layer for layer in report.layers}
    assert sum(layer.macs for layer in report.layers) == report.macs_official > 0
    weighted = [layer for layer in report.layers if layer.parameters]
    assert weighted and all(layer.macs > 0 for layer in weighted), by_layer
    assert by_layer.get("(model)") is None or by_layer["(model)"].macs == 0


def test_fx_handles_functional_add_that_eager_cannot():
    model = nets.FunctionalAdd().eval()
    quantized = Int8Static(mode="fx").compress(model, _ctx())
    x = nets.batch()
    assert (quantized(x) - model(x)).abs().max().item() < 0.1 * model(x).abs().max().item()
    with pytest.raises(CompressionError, match="mode: fx"):
        Int8Static(mode="eager").compress(model, _ctx())


def test_affine_from_a_folded_input_bn_stays_float(rules):
    model = nets.randomize_bn(nets.TinySP4ASC()).eval()
    folded = FoldBatchNorm().compress(model, _ctx())
    ctx = _ctx()
    quantized = Int8Static().compress(folded, ctx)
    report = measure_compressed(quantized, rules["every_value"], nets.SHAPE)
    mels = nets.SHAPE[1]
    biases = 8 + 16 + 16 + 10  # sp_conv2 of each block, fc1, fc2
    assert report.values_by_dtype["float32"] == 2 * mels + biases
    assert any("kept in float32: bn0" in n for n in ctx.notes)
    x = nets.batch()
    assert (quantized(x) - model(x)).abs().max().item() < 0.1 * model(x).abs().max().item()


def test_needs_calibration_batches():
    with pytest.raises(CompressionError, match="calibration"):
        Int8Static().compress(nets.ConvLinear().eval(), CompressionContext())
    ctx = CompressionContext(calibration=lambda: iter(()))
    with pytest.raises(CompressionError, match="no batches"):
        Int8Static().compress(nets.ConvLinear().eval(), ctx)


def test_calibration_batches_are_limited_and_unpacked():
    seen = []

    def batches():
        for i in range(10):
            seen.append(i)
            yield (nets.batch(2, seed=i), torch.zeros(2, dtype=torch.long))

    ctx = CompressionContext(calibration=batches)
    Int8Static(calibration_batches=3).compress(nets.ConvLinear().eval(), ctx)
    assert seen == [0, 1, 2, 3]  # the 4th is drawn, then the loop stops
    assert any("calibrated on 3 batch(es) (6 examples)" in n for n in ctx.notes)


def test_eager_uses_declared_fuse_groups_and_keeps_affine_in_float(rules):
    model = nets.randomize_bn(nets.DeclaredFusion()).eval()
    folded = FoldBatchNorm().compress(model, _ctx())  # the input BN becomes an Affine(1)
    quantized = Int8Static(mode="eager").compress(folded, _ctx())
    inner = quantized.model
    assert type(inner.conv).__name__ == "ConvReLU2d" and isinstance(inner.act, nn.Identity)
    assert type(inner.norm).__name__ == "_FloatIsland"
    report = measure_compressed(quantized, rules["every_value"], nets.SHAPE)
    assert report.values_by_dtype == {"qint8": 36 + 40, "float32": 2 + 4 + 10}
    x = nets.batch()
    assert (quantized(x) - model(x)).abs().max().item() < 0.1 * model(x).abs().max().item()
