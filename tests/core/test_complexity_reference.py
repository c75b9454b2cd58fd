"""ascbench's counts against the official counters' reference numbers (notes/dcase-rules.md §6).

Under ``dcase2022`` the parameter and MAC totals must equal what NeSsi's torch path
(torchinfo) gives for the same PyTorch model; fvcore's own total is a cross-check column.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import prune

from ascbench.complexity import measure
from ascbench.plugins import load_registry

from . import reference_nets as nets


@pytest.fixture(scope="module")
def rules():
    registry = load_registry(entry_points=False, environment=False)
    return {name: registry.ruleset(name) for name in ("dcase2021", "dcase2022")}


BIG, SMALL = (1, 256, 431), (1, 40, 51)

# model, input, NeSsi params, NeSsi MACs, fvcore total  (§6.4)
REFERENCE = [
    ("conv3x3_bias", nets.conv3x3_bias, BIG, 80, 8_826_880, 7_944_192),
    ("conv3x3_nobias_bn", nets.conv3x3_nobias_bn, BIG, 88, 7_944_208, 9_709_568),
    ("pw_dw", nets.pw_dw, BIG, 80, 8_826_880, 8_826_880),
    ("conv_gap_linear", nets.conv_gap_linear, BIG, 162, 7_944_282, 8_826_960),
    ("conv_relu_pools", nets.conv_relu_maxpool_avgpool, BIG, 72, 7_944_192, 7_944_192),
    ("small_mobile", nets.small_mobile, BIG, 1_258, 22_118_858, 26_542_400),
    ("residual", nets.ResidualAddMulUpsample, BIG, 656, 71_497_728, 75_028_480),
    ("functional", nets.FunctionalConvLinear, BIG, 152, 0, 7_944_272),
    ("linear_btf", lambda: nets.LinearOnBTF(256), BIG, 4_112, 4_112, 1_765_376),
    ("gru", lambda: nets.GRUNet(256), BIG, 13_322, 5_668_682, 160),
    ("conv3x3_bias", nets.conv3x3_bias, SMALL, 80, 163_200, 146_880),
    ("conv3x3_nobias_bn", nets.conv3x3_nobias_bn, SMALL, 88, 146_896, 179_520),
    ("pw_dw", nets.pw_dw, SMALL, 80, 163_200, 163_200),
    ("conv_gap_linear", nets.conv_gap_linear, SMALL, 162, 146_970, 163_280),
    ("conv_relu_pools", nets.conv_relu_maxpool_avgpool, SMALL, 72, 146_880, 146_880),
    ("small_mobile", nets.small_mobile, SMALL, 1_258, 416_458, 499_520),
    ("residual", nets.ResidualAddMulUpsample, SMALL, 656, 1_321_920, 1_387_200),
    ("functional", nets.FunctionalConvLinear, SMALL, 152, 0, 146_960),
    ("linear_btf", lambda: nets.LinearOnBTF(40), SMALL, 656, 656, 32_640),
    ("gru", lambda: nets.GRUNet(40), SMALL, 2_954, 142_154, 160),
]


@pytest.mark.parametrize(
    "factory,shape,params,macs,fvcore_total",
    [r[1:] for r in REFERENCE],
    ids=[f"{r[0]}@{r[2][1]}x{r[2][2]}" for r in REFERENCE],
)
def test_reference_nets_match_nessi_torch_and_fvcore(
    rules, factory, shape, params, macs, fvcore_total
):
    torch.manual_seed(0)
    report = measure(factory(), rules["dcase2022"], shape)
    assert report.parameters == params
    assert report.macs_official == macs
    assert report.fvcore_macs == fvcore_total


def test_functional_ops_are_counted_shown_and_flagged(rules):
    report = measure(nets.FunctionalConvLinear(), rules["dcase2022"], BIG)
    assert report.macs_official == 0  # what NeSsi-torch reports
    assert report.functional_macs == 7_944_192 + 80  # conv weights + linear weights
    assert report.macs == report.functional_macs  # the limit sees the real work
    assert any("functional ops" in f and "(model)" in f for f in report.flags)
    (row,) = [layer for layer in report.layers if layer.name == "(model)"]
    assert row.functional_macs == 7_944_272 and row.macs == 0


def test_models_without_functional_ops_raise_no_flag(rules):
    report = measure(nets.small_mobile(), rules["dcase2022"], BIG)
    assert report.functional_macs == 0
    assert not any("functional" in f for f in report.flags)


def test_small_mobile_per_layer_matches_nessi(rules):
    report = measure(nets.small_mobile(), rules["dcase2022"], BIG)
    per_layer = {layer.name: (layer.parameters, layer.macs) for layer in report.layers}
    assert per_layer == {
        "0": (144, 3_981_312),
        "1": (32, 32),
        "3": (144, 3_981_312),
        "4": (32, 32),
        "6": (512, 14_155_776),
        "7": (64, 64),
        "11": (330, 330),
    }
    small = measure(nets.small_mobile(), rules["dcase2022"], SMALL)
    convs = [layer.macs for layer in small.layers if layer.type == "Conv2d"]
    assert convs == [74_880, 74_880, 266_240]


def test_dcase2022_baseline_exact(rules):
    report = measure(nets.dcase2022_baseline(), rules["dcase2022"], SMALL)
    assert report.parameters == 46_118
    assert report.macs == report.macs_official == 29_271_638
    assert report.fvcore_macs == 29_339_240
    assert report.fvcore_by_operator == {"conv": 29_196_160, "batch_norm": 135_680, "linear": 7_400}
    per_layer = [(layer.type, layer.parameters, layer.macs) for layer in report.layers]
    assert per_layer == [
        ("Conv2d", 800, 1_632_000),
        ("BatchNorm2d", 32, 32),
        ("Conv2d", 12_560, 25_622_400),
        ("BatchNorm2d", 32, 32),
        ("Conv2d", 25_120, 2_009_600),
        ("BatchNorm2d", 64, 64),
        ("Linear", 6_500, 6_500),
        ("Linear", 1_010, 1_010),
    ]
    assert report.bytes == 46_118  # INT8 fixed by the 2022 rules
    assert [c.status for c in report.checks] == ["pass", "pass"]
    assert report.status == "pass"


def test_dcase2021_baseline_keras_convention(rules):
    model = nets.dcase2022_baseline(second_pool=(4, 100))
    report = measure(model, rules["dcase2021"], (1, 40, 500))
    assert report.parameters == 46_246  # Keras summary: BN moving statistics counted
    assert report.macs == 287_303_638
    assert report.fvcore_macs == 287_969_000
    # freshly initialised: BN beta and running mean are zeros (2*64 values)
    assert report.nonzero_parameters == 46_246 - 128
    assert report.bytes == report.nonzero_parameters * 4
    assert report.status == "fail"  # fp32 is over 128 KB; the baseline ships fp16


def test_dcase2021_fp16_bytes_by_actual_dtype(rules):
    model = nets.dcase2022_baseline(second_pool=(4, 100))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):  # trained-looking BN statistics
                module.bias.fill_(0.1)
                module.running_mean.fill_(0.2)
    for module in model.modules():
        if (
            not isinstance(module, torch.nn.BatchNorm2d)
            and next(module.parameters(False), None) is not None
        ):
            module.half()
    report = measure(model, rules["dcase2021"], (1, 40, 500))
    # the official 2021 tool's figure for the Keras fp16 route: 45,990 fp16 + 256 fp32 values
    assert report.bytes == 93_004
    assert report.values_by_dtype == {"float16": 45_990, "float32": 256}
    assert report.status == "pass"


def test_shared_module_counts_params_once_and_macs_per_call(rules):
    report = measure(nets.SharedConvTwice(), rules["dcase2022"], SMALL)
    assert (report.parameters, report.macs) == (584, 2_366_400)
    assert report.fvcore_macs == 2_366_400


def test_unused_module_parameters_count_and_are_flagged(rules):
    report = measure(nets.WithUnusedLinear(), rules["dcase2022"], SMALL)
    assert (report.parameters, report.macs) == (10_172, 146_880)
    assert any("never called" in f and "unused" in f for f in report.flags)


def test_batch_size_is_the_rule_sets(rules):
    custom = rules["dcase2022"].model_copy(
        update={"macs": rules["dcase2022"].macs.model_copy(update={"batch_size": 4})}
    )
    assert measure(nets.conv3x3_nobias_bn(), custom, SMALL).macs_official == 4 * 146_896
    assert measure(nets.conv3x3_bias(), custom, SMALL).macs == 4 * 163_200


def test_pruning_masks_are_baked_in_and_flagged(rules):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1, bias=False))
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    report = measure(model, rules["dcase2022"], SMALL)
    assert report.parameters == 72  # zeros count in 2022
    assert report.nonzero_parameters == 36
    assert any("pruning masks" in f for f in report.flags)
    assert hasattr(model[0], "weight_mask"), "measure() must not change the caller's model"


def test_measure_leaves_the_model_untouched(rules):
    model = nets.small_mobile().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    measure(model, rules["dcase2022"], SMALL)
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_quantized_weights_count_one_byte_and_biases_their_dtype(rules):
    from torch.ao.nn.quantized import Linear as QLinear

    float_model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2040, 10))
    qlinear = QLinear(2040, 10)
    qlinear.set_weight_bias(
        torch.quantize_per_tensor(torch.randn(10, 2040), 0.05, 0, torch.qint8), torch.randn(10)
    )
    qmodel = torch.nn.Sequential(torch.nn.Flatten(), qlinear)
    custom = rules["dcase2021"]
    report = measure(qmodel, custom, SMALL, mac_model=float_model)
    nonzero_w = int(torch.count_nonzero(qlinear.weight().dequantize()))
    assert report.parameters == 20_410
    assert report.values_by_dtype == {"qint8": 20_400, "float32": 10}
    assert report.bytes == nonzero_w * 1 + 10 * 4
    assert report.macs == 20_410
    assert any("float model" in f for f in report.flags)


class Affine(torch.nn.Module):
    """A custom leaf module with weight and bias (like a folded BN over mel bins)."""

    def __init__(self, n: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.bias = torch.nn.Parameter(torch.zeros(n))

    def forward(self, x):
        return x * self.weight[:, None] + self.bias[:, None]


class CustomLinear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(10, 40))

    def forward(self, x):  # (B, 1, 40, 51) -> linear over frequency at every frame
        return torch.matmul(x.squeeze(1).transpose(1, 2), self.weight.t()).mean(1)


def test_custom_leaf_modules_are_charged_like_torchinfo(rules):
    model = torch.nn.Sequential(Affine(40), torch.nn.Flatten(), torch.nn.Linear(40 * 51, 10))
    report = measure(model.eval(), rules["dcase2022"], (40, 51))  # (C=40, F=51): Affine over C
    affine = next(layer for layer in report.layers if layer.type == "Affine")
    assert affine.macs == 80 and affine.functional_macs == 0  # torchinfo: N x (40 + 40)
    report = measure(CustomLinear(), rules["dcase2022"], SMALL)
    # torchinfo charges 400 (N x numel); the traced matmul is 51 frames x 400: the rest flagged
    assert report.macs_official == 400
    assert report.functional_macs == 51 * 400 - 400


class _UpsampleCumsum(torch.nn.Module):
    """A conv, an op both counters have a rule for (bilinear upsampling), one that neither
    has (cumsum); counts its forward passes."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        x = torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode="bilinear")
        return x.cumsum(-1).mean((2, 3))


def test_one_trace_gives_the_rule_sets_count_and_fvcores_own(rules):
    from fvcore.nn import FlopCountAnalysis

    from ascbench.complexity import count_macs

    model, example = _UpsampleCumsum().eval(), torch.randn(1, 1, 40, 51)
    macs = count_macs(model, example, rules["dcase2022"].macs)
    assert model.calls == 1  # fvcore's cross-check does not trace the model a second time
    fvcore = FlopCountAnalysis(model, (example,))
    fvcore.unsupported_ops_warnings(False)
    assert macs.fvcore_total == fvcore.total() > 0
    assert macs.fvcore_by_operator == dict(fvcore.by_operator())
    assert "upsample_bilinear2d" in macs.fvcore_by_operator
    assert macs.total_counted == 4 * 9 * 40 * 51 + 4 * 40 * 51  # NeSsi: weights and biases
    assert macs.unsupported == {"aten::cumsum": 1}
    without = count_macs(model, example, rules["dcase2022"].macs, reference=False)
    assert (without.fvcore_total, without.fvcore_by_operator) == (0, {})
    assert without.counted == macs.counted and without.unsupported == macs.unsupported
