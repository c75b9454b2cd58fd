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
