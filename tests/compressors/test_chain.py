"""run_chain: every stage recorded with complexity before and after, metrics when asked."""

from __future__ import annotations

import pytest
import torch

from ascbench.compressors import (
    BUILTIN,
    CompressionContext,
    StageRecord,
    build_steps,
    run_chain,
)
from ascbench.compressors.base import CompressionError
from ascbench.plugins import load_registry
from ascbench.systems import ComponentRef

from . import nets


@pytest.fixture(scope="module")
def dcase2021():
    return load_registry(entry_points=False, environment=False).ruleset("dcase2021")


def test_chain_records_every_stage(dcase2021):
    model = nets.randomize_bn(nets.ConvBNReLUNet()).eval()
    x = nets.batch(16, seed=3)
    labels = model(x).argmax(1)
    finetuned = []

    def evaluate(m):
        with torch.no_grad():
            return {"accuracy": float((m(x).argmax(1) == labels).float().mean()), "note": "x"}

    ctx = CompressionContext(
        calibration=nets.calibration(),
        finetune=lambda m: finetuned.append(1) or m,
        evaluate=evaluate,
        ruleset=dcase2021,
        input_shape=nets.SHAPE,
    )
    target = 1500
    steps = build_steps(
        [
            ComponentRef(name="fold_batchnorm"),
            {"name": "prune_l1", "params": {"target_nonzero": target}},
            ("int8_static", {"calibration_batches": 2}),
        ]
    )
    compressed, records = run_chain(model, steps, ctx)
    names = [r.name for r in records]
    assert names == ["uncompressed", "fold_batchnorm", "prune_l1", "int8_static"]
    assert [r.index for r in records] == [0, 1, 2, 3]
    assert records[0].before is None
    for prev, rec in zip(records, records[1:], strict=False):
        assert rec.before == prev.after
        assert rec.ruleset == "dcase2021" and rec.seconds >= 0
    # fold: 8 + 16 BN channels lose gamma, beta, mean and var (dcase2021 counts all four),
    # and the two convs already had biases
    assert records[0].after.parameters - records[1].after.parameters == 4 * (8 + 16)
    assert records[1].metrics["accuracy"] == 1.0  # an exact fold keeps every prediction
    assert records[2].after.nonzero_parameters == target
    assert finetuned == [1]
    assert records[3].after.values_by_dtype.keys() == {"qint8", "float32"}
    assert records[3].after.macs == records[2].after.macs  # traced on the fused float model
    assert records[3].params["calibration_batches"] == 2
    assert records[3].params["mode"] == "fx"  # defaults are recorded too
    assert all("accuracy" in r.metrics and "note" not in r.metrics for r in records)
    assert any("not a number" in n for n in records[0].notes)
    assert records[2].notes and records[3].notes
    # records serialise and come back equal
    again = [StageRecord.model_validate_json(r.model_dump_json()) for r in records]
    assert again == records
    assert compressed(x).shape == (16, 10)


def test_chain_needs_rules_and_shape():
    with pytest.raises(CompressionError, match="rule set"):
        run_chain(nets.ConvLinear(), [], CompressionContext())


def test_steps_from_names_and_bad_names(dcase2021):
    assert set(BUILTIN) == {"fold_batchnorm", "fp16", "int8_static", "int8_qat", "prune_l1"}
    with pytest.raises(CompressionError, match="unknown compressor 'zip'"):
        build_steps([("zip", {})])
    with pytest.raises(CompressionError, match="prune_l1.*amount"):
        build_steps([("prune_l1", {"amount": 2.0})])
    ctx = CompressionContext(ruleset=dcase2021, input_shape=nets.SHAPE)
    _, records = run_chain(nets.ConvLinear(), [], ctx)
    assert len(records) == 1 and records[0].name == "uncompressed"


# -- the order of a chain, checked when it is built -------------------------------------------
@pytest.mark.parametrize(
    ("chain", "message"),
    [
        (
            ["int8_static", "prune_l1"],
            "compressors int8_static -> prune_l1: prune_l1 cannot follow int8_static: prune_l1 "
            "needs a float32 or float16 model, not int8; put prune_l1 before int8_static",
        ),
        (
            ["fold_batchnorm", "fp16", "int8_qat"],
            "compressors fold_batchnorm -> fp16 -> int8_qat: int8_qat cannot follow fp16: "
            "int8_qat needs a float32 model, not float16; drop one of them",
        ),
        (
            ["int8_static", "fp16"],
            "fp16 cannot follow int8_static: fp16 needs a float32 or float16 model, not int8; "
            "drop one of them",
        ),
        (["int8_qat", "fold_batchnorm"], "put fold_batchnorm before int8_qat"),
    ],
)
def test_a_chain_in_an_order_that_cannot_work_is_refused_when_built(chain, message):
    refs = [(name, {"amount": 0.5} if name == "prune_l1" else {}) for name in chain]
    with pytest.raises(CompressionError) as info:
        build_steps(refs)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "chain",
    [
        ["fold_batchnorm", "prune_l1", "int8_static"],
        ["fold_batchnorm", "fp16"],
        ["prune_l1", "fp16", "prune_l1", "fold_batchnorm"],
        ["fp16", "fp16"],
        ["int8_qat"],
        [],
    ],
)
def test_a_chain_that_works_is_built(chain):
    refs = [(name, {"amount": 0.5} if name == "prune_l1" else {}) for name in chain]
    assert [name for name, _ in build_steps(refs)] == chain


def test_a_plugin_compressor_that_declares_no_storage_takes_and_keeps_any_form():
    class Rename:  # a plugin's compressor: no accepts, no makes
        def compress(self, model, context):
            return model

    factories = {**BUILTIN, "rename": Rename}
    steps = build_steps([("int8_static", {}), ("rename", {})], factories)
    assert [name for name, _ in steps] == ["int8_static", "rename"]
    with pytest.raises(CompressionError, match="prune_l1 cannot follow int8_static"):
        build_steps([("int8_static", {}), ("rename", {}), ("prune_l1", {"amount": 0.5})], factories)


def test_each_compressor_refuses_a_model_stored_in_a_form_it_does_not_take():
    model = nets.ConvBNReLUNet().eval()
    int8 = BUILTIN["int8_static"]().compress(
        model, CompressionContext(calibration=nets.calibration(1))
    )
    for name in ("prune_l1", "fold_batchnorm", "fp16", "int8_static", "int8_qat"):
        compressor = BUILTIN[name](**({"amount": 0.5} if name == "prune_l1" else {}))
        with pytest.raises(CompressionError) as info:
            compressor.compress(int8, CompressionContext(calibration=nets.calibration(1)))
        assert str(info.value).startswith(
            f"{name} cannot follow int8 quantization: {name} needs a "
        ), str(info.value)


def test_a_plugin_compressor_that_needs_an_int8_model_first_is_told_so():
    class Int8Only:  # a plugin's compressor that only works on int8 models
        accepts = ("int8",)

        def compress(self, model, context):
            return model

    factories = {**BUILTIN, "int8_only": Int8Only}
    with pytest.raises(CompressionError) as info:
        build_steps([("int8_only", {})], factories)
    assert str(info.value) == (
        "compressors int8_only: int8_only cannot follow the float model: int8_only needs an int8 "
        "model, not float32; a compressor making it must come first"
    )
    assert len(build_steps([("int8_static", {}), ("int8_only", {})], factories)) == 2
