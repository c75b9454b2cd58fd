"""The Deepsound network reproduces Table 6 row by row and the Table 7 sizes (notes 002)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from ascbench_verbitskiy2021.model import MBConv, verbitskiy2021_mbconv

from ascbench.build import build_frontend
from ascbench.complexity import measure
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system
from ascbench.scenes import DEVICES, SCENES

SYSTEMS = {
    32: "verbitskiy2021_mbconv_mel32",
    64: "verbitskiy2021_mbconv_mel64",
    128: "verbitskiy2021_mbconv_mel128",
    160: "verbitskiy2021_mbconv_mel160",
}

# Table 6 (160 mel bins): block label, (I, O, fused), parameters.
TABLE6_BLOCKS = [
    ("Fused-MBConv4(6, 12)", (6, 12, True), 1_801),
    ("Fused-MBConv4(12, 12)", (12, 12, True), 6_219),
    ("MBConv4(12, 18)", (12, 18, False), 2_655),
    ("MBConv4(18, 18)", (18, 18, False), 4_216),
    ("MBConv4(18, 18)", (18, 18, False), 4_216),
    ("MBConv4(18, 24)", (18, 24, False), 5_092),
    ("MBConv4(24, 24)", (24, 24, False), 7_158),
    ("MBConv4(24, 24)", (24, 24, False), 7_158),
    ("MBConv4(24, 30)", (24, 30, False), 8_466),
    ("MBConv4(30, 30)", (30, 30, False), 10_627),
]
# Table 6 rows outside the blocks: module(s) of the model, parameters.
TABLE6_LAYERS = [
    ("BatchNorm", ("input_bn",), 320),
    ("Conv2d", ("stem",), 96),
    ("BatchNorm + swish", ("stem_bn",), 12),
    ("Conv2d", ("head",), 3_100),
    ("BatchNorm + swish", ("head_bn",), 200),
    ("Fully connected (FC)", ("fc",), 1_010),
]


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on the shared 2-core machines, two threads spin against each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


@pytest.fixture(scope="module")
def net160():
    return verbitskiy2021_mbconv(num_classes=10, input_shape=(1, 160, 640))


@pytest.mark.parametrize(("label", "paths", "expected"), TABLE6_LAYERS)
def test_table6_layer_rows(net160, label, paths, expected):
    assert sum(count(net160.get_submodule(p)) for p in paths) == expected, label


@pytest.mark.parametrize(("index", "row"), list(enumerate(TABLE6_BLOCKS)))
def test_table6_block_rows(net160, index, row):
    label, (i, o, fused), expected = row
    block = net160.blocks[index]
    assert isinstance(block, MBConv)
    assert (block.expand.in_channels, block.project.out_channels, block.fused) == (i, o, fused)
    assert count(block) == expected, label


def table5(i: int, o: int, fused: bool) -> int:
    """Table 5 row sums (the printed formulas (2)/(3) say 2*I where the table has 2*O)."""
    q = math.floor(0.25 * i)
    h = i * o if i != o else 0
    se = (1 + 4 * i) * q + 4 * i * (1 + q)
    if fused:
        return 36 * i * i + 8 * i + se + 4 * i * o + 2 * o + h
    return 4 * i * i + 8 * i + 36 * i + 8 * i + se + 4 * i * o + 2 * o + h


@pytest.mark.parametrize(("i", "o", "fused"), [(6, 12, True), (12, 18, False), (24, 30, False)])
def test_blocks_follow_table5_formulas(i, o, fused):
    stride = (2, 2) if i != o else (1, 1)
    assert count(MBConv(i, o, stride, fused=fused)) == table5(i, o, fused)


def test_printed_formula_2_has_a_typo():
    """Formula (2) as printed (2*I) gives 2,643 for MBConv4(12, 18); Table 6 says 2,655."""
    i, o, q = 12, 18, 3
    printed = 4 * i * (i + o + 2 * q + 14) + 2 * i + q + i * o
    assert printed == 2_643 and table5(i, o, False) == 2_655


def test_table6_total(net160):
    rows = sum(e for *_, e in TABLE6_LAYERS) + sum(e for *_, e in TABLE6_BLOCKS)
    assert rows == count(net160) == 62_346


@pytest.mark.parametrize(("n_mels", "expected"), [(32, 62_090), (64, 62_154), (128, 62_282)])
def test_mel_variants(n_mels, expected):
    assert count(verbitskiy2021_mbconv(input_shape=(1, n_mels, 640))) == expected


def test_report_size_in_fp16(net160):
    """Table 6/7: 121.8 KB = 62,346 parameters x 2 B (KiB); the report casts with .half()."""
    half = verbitskiy2021_mbconv().half()
    size = sum(p.numel() * p.element_size() for p in half.parameters())
    assert size == 124_692 and round(size / 1024, 1) == 121.8


def test_shapes_through_the_stages(net160):
    """Table 1 strides are (T, F) = 2x2, 2x1, 2x2, 2x2; checked on a 1-s clip (64 frames)."""
    seen = {}
    hooks = [
        net160.blocks[i].register_forward_hook(
            lambda m, a, out, i=i: seen.__setitem__(i, tuple(out.shape[1:]))
        )
        for i in (0, 2, 5, 8)
    ]
    try:
        with torch.no_grad():
            out = net160.eval()(torch.randn(2, 1, 160, 64))
    finally:
        for h in hooks:
            h.remove()
    assert out.shape == (2, 10)
    # (C, F, T); on 640 frames the time sizes are 320, 160, 80, 40 (notes 002)
    assert seen == {0: (12, 80, 32), 2: (18, 80, 16), 5: (24, 40, 8), 8: (30, 20, 4)}


@pytest.mark.parametrize("frames", [512, 64])
def test_any_length_gives_logits(frames):
    """8-s training crops (512 frames) and 1-s clips (64 frames) pool to the same head."""
    net = verbitskiy2021_mbconv(num_classes=10, input_shape=(1, 32, 640)).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 32, frames)).shape == (2, 10)


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "verbitskiy2021"]
    assert info.origin == "entry point" and info.distribution == "ascbench-verbitskiy2021"
    assert info.registered == {"model": ["verbitskiy2021_mbconv"], "system": list(SYSTEMS.values())}


@pytest.mark.parametrize("n_mels", [32, 160])
def test_system_builds_frontend_and_model(registry, n_mels):
    system = registry.system(SYSTEMS[n_mels])
    assert system.plugin == "verbitskiy2021" and not system.proposal
    frontend = build_frontend(registry, system)
    assert frontend.output_shape(10.0) == (1, n_mels, 640)
    assert frontend.output_shape(8.0) == (1, n_mels, system.recipe.extra["time_crop"])
    model = registry.get("model", system.model.name).build(
        num_classes=10, input_shape=(1, n_mels, 640), **system.model.params
    )
    assert count(model) == system.reported.parameters


def test_recipe_and_compression(registry):
    system = registry.system(SYSTEMS[160])
    r = system.recipe
    assert (r.optimizer, r.lr, r.batch_size, r.epochs) == ("adamw", 0.01, 64, 400)
    assert (r.scheduler, r.scheduler_params["max_lr"], r.ema_decay) == ("one_cycle", 0.01, 0.999)
    assert (r.mixup_alpha, r.extra["mixup_mode"], r.extra["time_crop"]) == (
        0.6,
        "between_class",
        512,
    )
    assert [c.name for c in system.compressors] == ["fp16"]


def test_profile_under_dcase2021(registry):
    """Untrained, after the report's fp16: the Keras-style count adds 2 x 1,892 BN running
    statistics, which are zero (means) and so not counted yet."""
    profile = profile_system(registry, registry.system(SYSTEMS[160]), registry.ruleset("dcase2021"))
    c = profile.complexity
    assert c.input_shape == [1, 1, 160, 640]
    assert c.parameters == 62_346 + 2 * 1_892 == 66_130
    assert c.macs == c.macs_official == 397_379_470
    # untrained: BN shifts and running means are zero and not counted; fp16 = 2 B each
    assert c.bytes == 2 * c.nonzero_parameters == 2 * 62_346
    assert profile.status == "pass"
    assert any("compressed by fp16" in f for f in c.flags)
    # the trained model (next test) fails: the verdict on untrained weights says it may flip
    assert any(
        f.startswith("provisional verdict: bytes 124,692 passes 128,000 on these weights but "
                     "would be about 132,260 with every value non-zero")
        for f in c.flags
    ), c.flags  # fmt: skip


def test_trained_fp16_model_exceeds_128_kb_under_the_2021_counting(registry):
    """The report counts 62,346 x 2 B = 124,692 B; the official 2021 tool also counts the BN
    running statistics: trained (non-zero) they make 66,130 x 2 B = 132,260 B > 131,072 B."""
    from ascbench.complexity import measure

    system = registry.system(SYSTEMS[160])
    model = registry.get("model", system.model.name).build(
        num_classes=10, input_shape=(1, 160, 640), **system.model.params
    )
    with torch.no_grad():  # what training leaves: no exact zeros in BN shifts and statistics
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.bias.fill_(0.01)
                module.running_mean.fill_(0.02)
    (ref,) = system.compressors
    fp16 = registry.get("compressor", ref.name).build(**ref.params)
    c = measure(fp16.compress(model.eval(), None), registry.ruleset("dcase2021"), (1, 160, 640))
    assert (c.parameters, c.bytes, c.status) == (66_130, 132_260, "fail")


@pytest.mark.parametrize(
    ("n_mels", "macs", "status"),
    [(160, 39_749_710, "fail"), (32, 7_960_142, "pass")],
)
def test_profile_under_dcase2022(registry, n_mels, macs, status):
    profile = profile_system(
        registry, registry.system(SYSTEMS[n_mels]), registry.ruleset("dcase2022")
    )
    c = profile.complexity
    assert c.input_shape == [1, 1, n_mels, 64]
    assert (c.parameters, c.macs) == (62_346 - 2 * (160 - n_mels), macs)
    assert {k.quantity: k.status for k in c.checks} == {"parameters": "pass", "macs": status}


def _trained_like(net: torch.nn.Module) -> torch.nn.Module:
    """Non-zero BN shifts and running means, as trained weights have."""
    gen = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t in (m.bias, m.running_mean):
                t.data.copy_(torch.rand(t.shape, generator=gen) + 0.1)
    return net


def test_report_fp16_model_under_dcase2021_counting(registry):
    """The report's .half() model is 124,692 B at 2 values per BN channel, but 132,260 B when
    the BN running statistics count (the 2021 tool's convention): over 128,000 and 131,072.
    Sizes do not depend on the clip length; 64 frames keep the MAC trace cheap."""
    net = _trained_like(verbitskiy2021_mbconv()).half()
    report = measure(net, registry.ruleset("dcase2021"), (1, 160, 64))
    assert (report.parameters, report.bytes) == (66_130, 132_260)
    assert report.status == "fail"


def test_compressor_chain_when_available(registry):
    system = registry.system(SYSTEMS[160])
    if "fp16" not in registry.names("compressor"):
        pytest.skip("compressor fp16 is not registered yet")
    model = _trained_like(verbitskiy2021_mbconv()).eval()
    for ref in system.compressors:
        model = registry.get("compressor", ref.name).build(**ref.params).compress(model, None)
    report = measure(model, registry.ruleset("dcase2021"), (1, 160, 64))
    assert report.bytes == 132_260


def test_reported_numbers(registry):
    best = registry.system(SYSTEMS[160]).reported
    assert (best.parameters, best.bytes, best.accuracy, best.log_loss) == (
        62_346,
        124_692,
        70.5,
        0.848,
    )
    assert set(best.class_wise) == set(SCENES) and set(best.device_wise) == set(DEVICES)
    assert best.class_wise["bus"] == {"accuracy": 90.6, "log_loss": 0.340}
    assert best.device_wise["s6"] == {"accuracy": 64.8, "log_loss": 0.995}
    means = [sum(v[k] for v in best.class_wise.values()) / 10 for k in ("accuracy", "log_loss")]
    assert means == pytest.approx([70.5, 0.848], abs=0.05)  # rounded per class
    others = {m: registry.system(SYSTEMS[m]).reported for m in (32, 64, 128)}
    assert [(r.accuracy, r.log_loss) for r in others.values()] == [
        (64.4, 1.042),
        (68.8, 0.932),
        (70.9, 0.859),
    ]
    # Table 7 sizes in KB (KiB) follow from 2 B per parameter.
    assert [round(r.bytes / 1024, 1) for r in others.values()] == [121.3, 121.4, 121.6]


@pytest.mark.parametrize("stride", [(2, 2), (2, 1), (1, 2)])
def test_strided_shortcut_is_the_strided_1x1_conv(stride):
    # The shortcut samples every s-th row and column, then applies a 1x1 conv of stride 1:
    # the same weights and output as the report's strided 1x1 conv (Table 5's H(I, O)).
    torch.manual_seed(0)
    block = MBConv(6, 12, stride, fused=True)
    x = torch.randn(2, 6, 33, 50)
    strided = torch.nn.Conv2d(6, 12, 1, stride, bias=False)
    strided.weight.data.copy_(block.shortcut.weight)
    got = block.shortcut(x[:, :, :: stride[0], :: stride[1]])
    torch.testing.assert_close(got, strided(x), rtol=1e-6, atol=1e-6)


def test_a_channels_last_training_step_runs_at_the_default_shape(registry):
    # torch 2.13's oneDNN corrupts the heap computing the weight gradient of a strided 1x1
    # conv in channels-last layout at this size (rc -11 / -6); the recipe trains channels-last.
    system = registry.system("verbitskiy2021_mbconv_mel64")
    assert system.recipe.extra["memory_format"] == "channels_last"
    code = (
        "import torch\n"
        "from ascbench_verbitskiy2021.model import verbitskiy2021_mbconv\n"
        "torch.manual_seed(0)\n"
        "net = verbitskiy2021_mbconv(10, (1, 64, 100)).to(memory_format=torch.channels_last)\n"
        "x = torch.randn(64, 1, 64, 100).contiguous(memory_format=torch.channels_last)\n"
        "for _ in range(2):\n"
        "    net(x).logsumexp(1).sum().backward()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-500:]
