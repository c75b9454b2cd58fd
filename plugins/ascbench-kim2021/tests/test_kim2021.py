"""Kim (3M) 2021: the built network matches report Table 1 and notes/systems.md "000: Kim"."""

from __future__ import annotations

import copy

import pytest
import torch
from ascbench_kim2021.model import KimVggishCNN
from ascbench_kim2021.plugin import NONZERO, TABLE3
from torch.ao import quantization as tq

from ascbench.build import build_model, feature_shape
from ascbench.complexity import measure
from ascbench.errors import AscbenchError
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system
from ascbench.scenes import SCENES

SYSTEMS = ["kim2021_cnn_pr1", "kim2021_cnn_pr2", "kim2021_cnn_pr3", "kim2021_cnn_pr4"]
#: Notes table: parameters per layer of report Table 1 (weights + biases).
LAYER_PARAMS = {"layer1": 640, "layer2": 73_856, "layer3": 73_792, "layer4": 20_490}
TOTAL = 168_778


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


@pytest.fixture(scope="module")
def model(registry) -> KimVggishCNN:
    system = registry.system("kim2021_cnn_pr3")
    shape = feature_shape(registry, system, registry.ruleset("dcase2021"))
    return build_model(registry, system, shape, 10)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "kim2021"]
    assert info.origin == "entry point" and info.distribution == "ascbench-kim2021"
    assert info.ok, info.errors
    assert info.registered == {"model": ["kim2021_vggish_cnn"], "system": SYSTEMS}
    for name in SYSTEMS:
        assert registry.system(name).plugin == "kim2021"


def test_frontend_gives_the_reports_431_by_256_input(registry):
    system = registry.system("kim2021_cnn_pr1")
    assert feature_shape(registry, system, registry.ruleset("dcase2021")) == (1, 256, 431)
    assert feature_shape(registry, system, registry.ruleset("dcase2022")) == (1, 256, 44)


def test_parameters_per_layer_match_table_1(model):
    assert {name: _count(getattr(model, name)) for name in LAYER_PARAMS} == LAYER_PARAMS
    assert _count(model) == TOTAL
    assert list(model.buffers()) == []  # no batch norm: torch and Keras-style counts agree


def test_layer_output_shapes_match_table_1(model):
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
        for name in ("layer1", "layer2", "layer3", "flatten", "layer4")
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.randn(1, 1, 256, 431))
    finally:
        for hook in hooks:
            hook.remove()
    # Table 1 gives (time x freq, channels): 215x128,64 / 107x64,128 / 1x32,64 / 10.
    assert shapes == {
        "layer1": (1, 64, 128, 215),
        "layer2": (1, 128, 64, 107),
        "layer3": (1, 64, 32, 53),
        "flatten": (1, 64 * 32),  # after the max over the time axis
        "layer4": (1, 10),
    }


def test_table_2_non_zero_counts_fit_the_built_layers(model):
    for variant, counts in NONZERO.items():
        assert sum(counts[name] for name in LAYER_PARAMS) == counts["total"], variant
        for name, full in LAYER_PARAMS.items():
            assert counts[name] < full, (variant, name)


@pytest.mark.parametrize("rules", ["dcase2021", "dcase2022"])
def test_measure_counts_every_layer(model, registry, rules):
    ruleset = registry.ruleset(rules)
    report = measure(model, ruleset, (1, 256, 44))
    assert report.parameters == TOTAL
    layers = {row.name: row.parameters for row in report.layers}
    assert {name: layers[f"{name}.conv"] for name in ("layer1", "layer2", "layer3")} == {
        name: LAYER_PARAMS[name] for name in ("layer1", "layer2", "layer3")
    }
    assert layers["layer4"] == LAYER_PARAMS["layer4"]


def test_profile_under_dcase2021(registry):
    profile = profile_system(
        registry, registry.system("kim2021_cnn_pr3"), registry.ruleset("dcase2021")
    )
    c = profile.complexity
    assert c.input_shape == [1, 1, 256, 431]
    assert (c.parameters, c.macs, c.functional_macs) == (TOTAL, 2_608_480_266, 0)
    (check,) = c.checks
    assert check.quantity == "bytes"
    # profile applies prune_l1 (to Table 2's total) -> int8_static: int8 weights, fp32 biases
    assert any("compressed by prune_l1 -> int8_static" in flag for flag in c.flags)
    assert c.values_by_dtype == {"qint8": TOTAL - 266, "float32": 266}
    assert c.nonzero_parameters <= NONZERO["pr3"]["total"]  # int8 rounding may zero a few more
    assert c.bytes <= 120_575 + 266 * 4  # the notes' hand count: 121,639 B
    assert profile.status == "pass"


def test_profile_under_dcase2022_fails_on_parameters_and_macs(registry):
    profile = profile_system(
        registry, registry.system("kim2021_cnn_pr3"), registry.ruleset("dcase2022")
    )
    c = profile.complexity
    assert c.input_shape == [1, 1, 256, 44]
    assert (c.parameters, c.macs) == (TOTAL, 267_157_514)
    assert profile.status == "fail"
    assert {check.quantity: check.status for check in c.checks} == {
        "parameters": "fail",  # 168,778 > 128,000: zeros count in 2022
        "macs": "fail",
    }


@pytest.mark.parametrize("variant", ["pr1", "pr2", "pr3", "pr4"])
def test_reported_numbers_and_compressor_chain(registry, variant):
    system = registry.system(f"kim2021_cnn_{variant}")
    reported = system.reported
    assert reported.nonzero_parameters == NONZERO[variant]["total"]
    assert reported.bytes == NONZERO[variant]["total"]  # int8: 1 B per non-zero
    assert list(reported.class_wise) == list(SCENES)
    # Table 3's average row is the mean of its class rows (up to rounding).
    lls = [row["log_loss"] for row in reported.class_wise.values()]
    accs = [row["accuracy"] for row in reported.class_wise.values()]
    assert abs(sum(lls) / 10 - reported.log_loss) < 6e-4
    assert abs(sum(accs) / 10 - reported.accuracy) < 0.051
    prune, int8 = system.compressors
    assert (prune.name, int8.name) == ("prune_l1", "int8_static")
    assert prune.params["target_nonzero"] == NONZERO[variant]["total"]
    assert prune.params["scope"] == "global" and prune.params["include_bias"] is False
    assert int8.params["mode"] == "eager"
    assert system.recipe.batch_size == 32 and system.recipe.lr == 2e-4
    assert any("Batch size 32 is assumed" in d for d in system.deviations)


def test_reported_class_wise_values(registry):
    reported = registry.system("kim2021_cnn_pr3").reported
    assert reported.class_wise["tram"] == {"log_loss": 0.930, "accuracy": 66.6}
    assert reported.class_wise["airport"] == {"log_loss": 1.212, "accuracy": 55.1}
    assert (reported.accuracy, reported.log_loss) == (63.3, 1.009)
    assert TABLE3["pr2"][-1] == (1.008, 63.5)


def test_frozen_layers_are_the_vggish_layers(registry, model):
    prefixes = registry.system("kim2021_cnn_pr1").recipe.frozen_layers
    frozen = [
        p for n, p in model.named_parameters() if any(n.startswith(x + ".") for x in prefixes)
    ]
    assert sum(p.numel() for p in frozen) == 640 + 73_856  # VGGish conv1 + conv2: 74,496


def _vggish_tensors(layout: str) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    if layout == "tf":  # [k_time, k_freq, in, out]
        return {
            "conv1.weight": torch.randn(3, 3, 1, 64, generator=gen),
            "conv1.bias": torch.randn(64, generator=gen),
            "conv2.weight": torch.randn(3, 3, 64, 128, generator=gen),
            "conv2.bias": torch.randn(128, generator=gen),
        }
    return {  # torchvggish: (out, in, k_time, k_freq), its key names
        "features.0.weight": torch.randn(64, 1, 3, 3, generator=gen),
        "features.0.bias": torch.randn(64, generator=gen),
        "features.3.weight": torch.randn(128, 64, 3, 3, generator=gen),
        "features.3.bias": torch.randn(128, generator=gen),
        "embeddings.0.weight": torch.randn(2, 2, generator=gen),  # ignored
    }


@pytest.mark.parametrize("layout", ["tf", "torch"])
def test_vggish_weights_are_loaded_with_time_and_freq_swapped(registry, tmp_path, layout):
    state = _vggish_tensors(layout)
    path = tmp_path / f"vggish_{layout}.pt"
    torch.save(state, path)
    entry = registry.get("model", "kim2021_vggish_cnn")
    model = entry.build(num_classes=10, input_shape=(1, 256, 44), vggish_weights=str(path))
    if layout == "tf":
        w1, b1, w2 = state["conv1.weight"], state["conv1.bias"], state["conv2.weight"]
        w1, w2 = w1.permute(3, 2, 1, 0), w2.permute(3, 2, 1, 0)  # -> (out, in, k_freq, k_time)
    else:
        w1, b1 = state["features.0.weight"], state["features.0.bias"]
        w2 = state["features.3.weight"]
        w1, w2 = w1.transpose(2, 3), w2.transpose(2, 3)
    assert torch.equal(model.layer1.conv.weight, w1)
    assert torch.equal(model.layer1.conv.bias, b1)
    assert torch.equal(model.layer2.conv.weight, w2)
    # A kernel tap at VGGish (time = 0, freq = 2) sits at ascbench (freq = 2, time = 0).
    if layout == "tf":
        original = state["conv2.weight"][0, 2, 5, 7]  # [k_time, k_freq, in, out]
    else:
        original = state["features.3.weight"][7, 5, 0, 2]  # (out, in, k_time, k_freq)
    assert model.layer2.conv.weight[7, 5, 2, 0] == original


def test_vggish_weights_missing_file_or_keys_is_a_clear_error(registry, tmp_path):
    entry = registry.get("model", "kim2021_vggish_cnn")
    with pytest.raises(AscbenchError, match="does not exist"):
        entry.build(num_classes=10, input_shape=(1, 256, 44), vggish_weights=str(tmp_path / "x"))
    bad = tmp_path / "bad.pt"
    torch.save({"conv1.weight": torch.zeros(64, 1, 3, 3)}, bad)
    with pytest.raises(AscbenchError, match="conv1.bias"):
        entry.build(num_classes=10, input_shape=(1, 256, 44), vggish_weights=str(bad))


def test_default_is_random_init_and_recorded_as_a_deviation(registry):
    system = registry.system("kim2021_cnn_pr2")
    assert system.model.params == {"vggish_weights": None}
    assert any(d.startswith("VGGish initialisation") for d in system.deviations)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_model_quantizes_to_int8_in_eager_mode(model):
    """The report's PyTorch eager static quantization runs on the network as built."""

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.quant, self.inner, self.dequant = tq.QuantStub(), inner, tq.DeQuantStub()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dequant(self.inner(self.quant(x)))

    inner = copy.deepcopy(model).eval()
    tq.fuse_modules(inner, inner.fuse_groups(), inplace=True)
    wrapped = Wrapped(inner).eval()
    wrapped.qconfig = tq.get_default_qconfig("fbgemm")
    torch.backends.quantized.engine = "fbgemm"
    tq.prepare(wrapped, inplace=True)
    x = torch.randn(2, 1, 256, 44)
    with torch.no_grad():
        wrapped(x)
        tq.convert(wrapped, inplace=True)
        out = wrapped(x)
    assert out.shape == (2, 10)
    assert type(wrapped.inner.layer4).__module__.startswith("torch.ao.nn.quantized")
