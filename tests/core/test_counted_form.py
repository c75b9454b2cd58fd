"""Which form of a model each rule set counts: before or after layer fusion (issue 15).

A small conv/batch-norm network, 1 x 16 x 16 input:
- unfused: conv 1->8 3x3 (72) + BN 8 (16) + conv 8->10 1x1 (80) + BN 10 (20) = 188 parameters;
  MACs 8*256*9 = 18,432 + BN 2*8 + 8*10*256 = 20,480 + BN 2*10 = 38,948.
- batch norm folded: the convolutions gain biases (8 + 10): 170 parameters; each bias costs one
  MAC per output element: 18,432 + 8*256 + 20,480 + 10*256 = 43,520 MACs.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from ascbench.compressors import CompressionContext, build_steps, run_chain
from ascbench.plugins import load_registry

SHAPE = (1, 16, 16)
UNFUSED = (188, 38_948)
FOLDED = (170, 43_520)


def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 10, 1, bias=False), nn.BatchNorm2d(10),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def registry():
    return load_registry(entry_points=False, environment=False)


def counted(registry, rules: str, chain, model=None):
    ruleset = registry.ruleset(rules)

    def calibration():
        generator = torch.Generator().manual_seed(0)
        return [torch.randn((4, *SHAPE), generator=generator)]

    context = CompressionContext(calibration=calibration, ruleset=ruleset, input_shape=SHAPE)
    steps = build_steps([(c, {}) for c in chain]) if chain and isinstance(chain[0], str) else chain
    _, records = run_chain(model or bn_net(), steps, context)
    return records[-1].after, context.report


def test_the_rule_sets_say_which_form_they_count(registry):
    forms = {r: registry.ruleset(r).counted_on.fusion for r in (
        "dcase2021", "dcase2022", "dcase2023", "dcase2024", "dcase2025")}  # fmt: skip
    assert forms == {
        "dcase2021": "after", "dcase2022": "after", "dcase2023": "before",
        "dcase2024": "before", "dcase2025": "after",
    }  # fmt: skip
    r24 = registry.ruleset("dcase2024")
    assert "before layer fusion" in r24.counting_form()
    assert "buffers not counted" in registry.ruleset("dcase2025").counting_form()
    assert "running_mean" in registry.ruleset("dcase2021").counting_form()


@pytest.mark.parametrize("rules", ["dcase2023", "dcase2024", "dcase2025"])
def test_the_2023_to_2025_limits_are_128000_bytes_and_30m_macs(registry, rules):
    ruleset = registry.ruleset(rules)
    assert [(lim.quantity, lim.maximum, lim.inclusive) for lim in ruleset.limits] == [
        ("bytes", 128_000, True),
        ("macs", 30_000_000, True),
    ]
    assert ruleset.clip_seconds == 1.0 and ruleset.kilobyte == 1000
    assert ruleset.parameters.counted_buffers == [] and ruleset.parameters.count_zeros
    assert ruleset.parameters.storage_dtype is None  # bytes by each tensor's dtype
    assert ruleset.primary_metric == "accuracy"
    assert (ruleset.macs.batch_norm, ruleset.macs.bias) == ("per_channel", True)


@pytest.mark.parametrize(
    "rules, parameters, nbytes, macs",
    [
        ("dcase2022", 170, 170, 43_520),  # after fusion, every value int8
        ("dcase2023", 188, 188 * 4, 38_948),  # before fusion, fp32
        ("dcase2024", 188, 188 * 4, 38_948),
        ("dcase2025", 170, 170 * 4, 43_520),  # the submitted (folded) model as it is
    ],
)
def test_folded_batch_norm_is_counted_in_each_rule_sets_form(
    registry, rules, parameters, nbytes, macs
):
    after, report = counted(registry, rules, ["fold_batchnorm"])
    assert (after.parameters, after.bytes, after.macs) == (parameters, nbytes, macs)
    assert (report.parameters, report.bytes, report.macs) == (parameters, nbytes, macs)
    assert any("layer fusion" in f for f in after.flags)


def test_unfused_models_count_the_same_under_every_form(registry):
    for rules in ("dcase2022", "dcase2024", "dcase2025"):
        after, _ = counted(registry, rules, [])
        assert (after.parameters, after.macs) == UNFUSED
        assert not any("layer fusion" in f for f in after.flags)


def test_before_fusion_bytes_follow_the_deployed_precision(registry):
    fp16, _ = counted(registry, "dcase2024", ["fold_batchnorm", "fp16"])
    assert (fp16.parameters, fp16.bytes, fp16.macs) == (188, 188 * 2, 38_948)
    int8, report = counted(registry, "dcase2024", ["int8_static"])
    # int8_static fuses too: 152 qint8 weights and 18 float biases deployed, counted as the
    # 188 parameters before fusion at 1 B each
    assert (int8.parameters, int8.bytes, int8.macs) == (188, 188, 38_948)
    assert int8.values_by_dtype == {"qint8": 188}
    assert report.checks and all(c.passed for c in report.checks)
    deployed, _ = counted(registry, "dcase2025", ["int8_static"])
    assert (deployed.parameters, deployed.macs) == FOLDED
    assert deployed.values_by_dtype == {"qint8": 152, "float32": 18}


class _Replace:
    """A compressor that swaps in a different, smaller model (e.g. a distilled student)."""

    params: dict = {}

    def compress(self, model, context):
        return nn.Sequential(nn.Conv2d(1, 10, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def test_a_replaced_model_is_not_mistaken_for_a_fusion(registry):
    after, _ = counted(registry, "dcase2024", [("replace", _Replace())])
    # conv 1->10 3x3 with bias: 100 parameters, 10*256*9 + 10*256 = 25,600 MACs
    assert (after.parameters, after.macs) == (100, 25_600)
    assert not any("layer fusion" in f for f in after.flags)


def test_a_limit_that_fails_only_before_fusion(registry, tmp_path):
    """The 2024 baseline's situation in miniature: folding raises the MACs above a limit that
    the unfused model meets. Under a "before" rule set the folded model passes, under "after"
    it fails."""
    from ascbench.rules import load_ruleset_file

    base = registry.ruleset("dcase2024").model_dump()
    verdicts = {}
    for fusion in ("before", "after"):
        data = {**base, "name": f"tight-{fusion}", "counted_on": {"fusion": fusion}}
        data["limits"] = [{"quantity": "macs", "maximum": 40_000}]
        path = tmp_path / f"{fusion}.json"


        path.write_text(json.dumps(data))
        ruleset = load_ruleset_file(path)
        context = CompressionContext(ruleset=ruleset, input_shape=SHAPE)
        _, records = run_chain(bn_net(), build_steps([("fold_batchnorm", {})]), context)
        verdicts[fusion] = (records[0].after.status, records[-1].after.status)
    assert verdicts == {"before": ("pass", "pass"), "after": ("pass", "fail")}

