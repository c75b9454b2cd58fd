"""Cao et al. 2021 PROPOSAL: the built network has the counts of notes/systems.md "003: Cao"."""

from __future__ import annotations

import pytest
import torch

from ascbench.build import build_model, feature_shape
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system
from ascbench.scenes import DEVICES, SCENES

SYSTEMS = ["cao2021_sys1_proposal", "cao2021_sys2_proposal", "cao2021_sys4_proposal"]
MODEL = "cao2021_resnet_attention_proposal"
REPORTED_NONZERO = 50_238  # system 4, report §4
#: Notes table, per block: (torch, Keras-style) parameters for 3x3 kernels.
BLOCKS_3X3 = {
    "stem": (960, 1_024),
    "res": (3_008, 3_264),
    "blocks.0": (6_224, 6_576),
    "blocks.1": (10_800, 11_280),
    "blocks.2": (11_592, 12_088),
    "blocks.3": (14_392, 14_952),
    "casam": (493, 493),
    "head": (590, 610),
}


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


def _build(registry, **params) -> torch.nn.Module:
    entry = registry.get("model", MODEL)
    return entry.build(num_classes=10, input_shape=(3, 128, 423), **params)


def _torch_and_keras(module: torch.nn.Module) -> tuple[int, int]:
    params = sum(p.numel() for p in module.parameters())
    stats = sum(b.numel() for n, b in module.named_buffers() if n.endswith(("_mean", "_var")))
    return params, params + stats


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "cao2021"]
    assert info.origin == "entry point" and info.distribution == "ascbench-cao2021"
    assert info.ok, info.errors
    assert info.registered == {"model": [MODEL], "system": SYSTEMS}


def test_systems_are_marked_as_proposals(registry):
    for name in SYSTEMS:
        system = registry.system(name)
        assert system.proposal is True and "proposal" in system.name
        assert "PROPOSAL" in system.title
        assert system.deviations[0].startswith("PROPOSAL architecture")
        assert [c.name for c in system.compressors] == ["fp16"]


def test_totals_under_both_conventions(registry):
    model = _build(registry)
    assert _torch_and_keras(model) == (48_059, 50_287)
    assert abs(50_287 - REPORTED_NONZERO) / REPORTED_NONZERO < 0.01
    assert _torch_and_keras(_build(registry, kernel_size=5)) == (56_507, 58_735)


def test_counts_per_block_match_the_notes_table(registry):
    model = _build(registry)
    modules = dict(model.named_modules())
    assert {name: _torch_and_keras(modules[name]) for name in BLOCKS_3X3} == BLOCKS_3X3


def test_options_change_the_counts_as_described(registry):
    base = _torch_and_keras(_build(registry))[0]
    # r = 8: MLP 56 -> 7 -> 56 with bias (847) instead of 56 -> 3 -> 56 (395).
    assert _torch_and_keras(_build(registry, attention_ratio=8))[0] - base == 847 - 395
    # A ReLU after the projection BN (the report's "ReLU after every BN" read literally).
    with_relu = _build(registry, project_relu=True)
    assert _torch_and_keras(with_relu)[0] == base
    assert all(isinstance(block.project[-1], torch.nn.ReLU) for block in with_relu.blocks)
    assert not any(isinstance(b.project[-1], torch.nn.ReLU) for b in _build(registry).blocks)


def test_block_output_shapes_on_the_reports_input(registry):
    model = _build(registry).eval()
    names = ["stem", "res", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "casam", "head"]
    modules = dict(model.named_modules())
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        modules[n].register_forward_hook(
            lambda _m, _i, out, n=n: shapes.__setitem__(n, tuple(out.shape[1:]))
        )
        for n in names
    ]
    try:
        with torch.no_grad():
            out = model(torch.randn(1, 3, 128, 423))
    finally:
        for hook in hooks:
            hook.remove()
    assert out.shape == (1, 10)
    assert shapes == {
        "stem": (32, 64, 212),
        "res": (32, 64, 212),
        "blocks.0": (48, 32, 106),
        "blocks.1": (48, 32, 106),
        "blocks.2": (56, 16, 53),
        "blocks.3": (56, 16, 53),
        "casam": (56, 16, 53),
        "head": (10, 16, 53),
    }


def test_frontend_gives_three_channels_of_128_mels(registry):
    system = registry.system("cao2021_sys4_proposal")
    # the report's 423 frames: 'valid' deltas drop 4 frames each (431 - 8)
    assert feature_shape(registry, system, registry.ruleset("dcase2021")) == (3, 128, 423)
    assert feature_shape(registry, system, registry.ruleset("dcase2022")) == (3, 128, 36)


def test_profile_under_dcase2021(registry):
    profile = profile_system(
        registry, registry.system("cao2021_sys4_proposal"), registry.ruleset("dcase2021")
    )
    c = profile.complexity
    assert c.input_shape == [1, 3, 128, 423]
    # Keras-style count (BN moving statistics included); attention ops are counted modules.
    assert (c.parameters, c.macs, c.functional_macs) == (50_287, 159_586_442, 0)
    # profile applies fp16; untrained BN betas and running means are 0: 48,059 non-zeros x 2 B
    assert any("compressed by fp16" in flag for flag in c.flags)
    assert (c.nonzero_parameters, c.bytes) == (48_059, 2 * 48_059)
    assert profile.status == "pass"


def test_profile_under_dcase2022_passes(registry):
    profile = profile_system(
        registry, registry.system("cao2021_sys4_proposal"), registry.ruleset("dcase2022")
    )
    c = profile.complexity
    assert c.input_shape == [1, 3, 128, 36]
    assert (c.parameters, c.macs, c.functional_macs) == (48_059, 13_719_690, 0)
    assert profile.status == "pass"
    assert {check.quantity: check.status for check in c.checks} == {
        "parameters": "pass",
        "macs": "pass",
    }


def test_systems_1_and_2_use_5x5_kernels(registry):
    for name, epochs in (("cao2021_sys1_proposal", 600), ("cao2021_sys2_proposal", 800)):
        system = registry.system(name)
        assert system.model.params == {"kernel_size": 5} and system.recipe.epochs == epochs
        model = build_model(registry, system, (3, 128, 44), 10)
        assert _torch_and_keras(model) == (56_507, 58_735)


def test_reported_numbers(registry):
    reported = registry.system("cao2021_sys4_proposal").reported
    assert (reported.nonzero_parameters, reported.accuracy, reported.log_loss) == (
        REPORTED_NONZERO,
        72.4,
        None,
    )
    assert list(reported.class_wise) == list(SCENES)
    assert list(reported.device_wise) == list(DEVICES)
    assert reported.class_wise["metro_station"] == {"accuracy": 75.1}
    assert reported.device_wise["s6"] == {"accuracy": 65.2}
    for name in SYSTEMS:
        reported = registry.system(name).reported
        classes = [row["accuracy"] for row in reported.class_wise.values()]
        # Table 1's average row is the mean of its class rows (up to rounding).
        assert abs(sum(classes) / len(classes) - reported.accuracy) < 0.051, name


def test_recipe(registry):
    recipe = registry.system("cao2021_sys4_proposal").recipe
    assert (recipe.optimizer, recipe.lr, recipe.momentum, recipe.batch_size) == (
        "sgd",
        0.1,
        0.9,
        16,
    )
    assert recipe.mixup_alpha == 0.4 and recipe.extra["mixup_mode"] == "two_batches"
    assert recipe.scheduler == "warm_restarts"
    restarts, epoch = [], 0
    for period in recipe.scheduler_params["periods"]:
        epoch += period
        restarts.append(epoch)
    assert restarts == [2, 6, 14, 30, 62, 126, 254, 510]
