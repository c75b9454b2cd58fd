"""int8_qat: quantization-aware fine-tuning through the context's finetune, then the deployed
int8 model, counted like int8_static's (1 B per weight) and evaluable on float input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ascbench.compressors import CompressionContext, Int8QAT, Int8Static, measure_compressed
from ascbench.compressors.base import CompressionError
from ascbench.plugins import load_registry

from . import nets


@pytest.fixture(scope="module")
def dcase2022():
    return load_registry(entry_points=False, environment=False).ruleset("dcase2022")


def _finetune(seen: list):
    """Three SGD steps on a fixed regression target: the fake-quantized model must train."""

    def finetune(model: nn.Module) -> nn.Module:
        seen.append((type(model).__name__, model.training))
        fake_quant = [m for m in model.modules() if "FakeQuantize" in type(m).__name__]
        assert fake_quant, "the model handed to finetune is not prepared for QAT"
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        x, y = nets.batch(8, seed=3), torch.arange(8) % 10
        for _ in range(3):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seen.append(float(loss.detach()))
        return model

    return finetune


def test_qat_fine_tunes_the_fake_quantized_model_and_deploys_int8(dcase2022):
    model = nets.randomize_bn(nets.ConvBNReLUNet()).eval()
    seen: list = []
    ctx = CompressionContext(calibration=nets.calibration(2), finetune=_finetune(seen),
                             ruleset=dcase2022, input_shape=nets.SHAPE)  # fmt: skip
    quantized = Int8QAT().compress(model, ctx)
    assert seen[0] == ("GraphModule", True)
    assert any("fine-tuned with fake quantization" in n for n in ctx.notes)
    report = measure_compressed(quantized, dcase2022, nets.SHAPE)
    static = measure_compressed(
        Int8Static().compress(model, CompressionContext(calibration=nets.calibration(2))),
        dcase2022, nets.SHAPE,
    )  # fmt: skip
    # the same deployed structure as post-training int8: same counts, weights in qint8
    assert (report.parameters, report.bytes, report.macs) == (
        static.parameters, static.bytes, static.macs
    )  # fmt: skip
    assert "qint8" in report.values_by_dtype
    out = quantized(nets.batch())
    assert out.dtype == torch.float32 and out.shape == (4, 10) and torch.isfinite(out).all()
    # the fine-tuning changed the weights: QAT is not post-training quantization here
    ptq = Int8Static().compress(model, CompressionContext(calibration=nets.calibration(2)))
    assert not torch.allclose(out, ptq(nets.batch()))


def test_without_a_finetune_callable_it_says_it_is_post_training():
    model = nets.ConvLinear().eval()
    ctx = CompressionContext(calibration=nets.calibration(2))
    quantized = Int8QAT().compress(model, ctx)
    assert any("post-training quantization" in n for n in ctx.notes)
    assert quantized(nets.batch()).shape == (4, 10)


def test_qat_refuses_a_model_already_in_fp16_or_int8():
    model = nets.ConvLinear().eval()
    int8 = Int8Static().compress(model, CompressionContext(calibration=nets.calibration(1)))
    with pytest.raises(CompressionError, match="int8_qat needs a float32 model"):
        Int8QAT().compress(int8, CompressionContext(calibration=nets.calibration(1)))
    with pytest.raises(CompressionError, match="invalid parameter 'backend'"):
        Int8QAT(backend="arm")


@pytest.mark.parametrize(
    "extra,trained,full,expected",
    [
        ({"finetune_epochs": 24}, 10, False, 2),  # CP-Mobile: 24 of 150 -> 2 of 10 (1.6)
        ({"finetune_epochs": 24}, 10, True, 24),  # --full: the recipe's own
        ({"finetune_epochs": 24}, 2, False, 1),  # at least one epoch
        ({"finetune_epochs": 100}, 500, False, 100),  # the whole schedule: the stated number
        ({}, 10, False, 5),  # none stated: half the training
        ({}, 1, True, 1),
    ],
)
def test_fine_tuning_keeps_the_recipes_share_of_the_training_epochs(extra, trained, full, expected):
    from ascbench.jobs.stages import finetune_epochs
    from ascbench.systems import TrainingRecipe

    recipe = TrainingRecipe(epochs=150 if extra.get("finetune_epochs") == 24 else 500, extra=extra)
    assert finetune_epochs(recipe, trained, full) == expected
