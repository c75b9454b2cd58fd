"""The DCASE 2024/2025 baseline (a simplified CP-Mobile) measures what the organisers' counter
gives: 61,148 parameters, 29,419,156 MACs, fp16 122,296 B (notes dcase-rules.md §6.3)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from ascbench_dcase_baselines.cpmobile_baseline import dcase2024_baseline_cnn

from ascbench.checkpoints import WeightsError
from ascbench.compressors import CompressionContext, build_steps, run_chain
from ascbench.frontends.presets import preset
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system

SHAPE = (1, 256, 65)
PARAMS, MACS, FP16_BYTES = 61_148, 29_419_156, 122_296
#: the network has 1,354 batch-norm channels (2,708 parameters and 2,708 MACs); folded, each
#: becomes one conv bias (1 parameter) that costs one MAC per output element (notes §6.3:
#: "measured with ascbench ... 30,216,768 after fold_batchnorm or int8_static")
BN_CHANNELS = 1_354
FOLDED_MACS = 30_216_768


@pytest.fixture(scope="module")
def registry():
    return load_registry(environment=False)


def test_the_frontend_gives_256_mels_by_65_frames():
    features = preset("dcase2024-baseline")(torch.randn(2, 32000))
    assert tuple(features.shape) == (2, *SHAPE)
    assert torch.isfinite(features).all()


def test_the_network_has_the_official_size_and_key_layout():
    model = dcase2024_baseline_cnn().eval()
    assert sum(p.numel() for p in model.parameters()) == PARAMS
    keys = list(model.state_dict())
    assert keys[:2] == ["in_c.0.0.weight", "in_c.0.1.weight"]
    assert "stages.s1.b1.block.1.0.weight" in keys  # depthwise conv of block 1
    assert "feed_forward.1.running_var" in keys
    assert tuple(model(torch.randn(3, *SHAPE)).shape) == (3, 10)


def test_profile_under_dcase2024_gives_the_official_numbers(registry):
    profile = profile_system(
        registry, registry.system("dcase2024_baseline"), registry.ruleset("dcase2024")
    )
    c = profile.complexity
    assert c.input_shape == [1, *SHAPE]
    assert (c.parameters, c.macs, c.bytes) == (PARAMS, MACS, FP16_BYTES)
    assert c.values_by_dtype == {"float16": PARAMS}
    assert c.fvcore_macs == 31_019_968  # fvcore's own count, notes §6.3
    assert profile.status == "pass"


def test_the_profile_command_prints_them():
    out = subprocess.run(
        [sys.executable, "-m", "ascbench", "profile", "--rules", "dcase2024",
         "--system", "dcase2024_baseline"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("dcase2024_baseline"))
    for value in ("61,148", "29,419,156", "122,296"):
        assert value in row
    assert row.split()[-1] == "pass"


def _route(registry, rules: str, chain: list[str]):
    ruleset = registry.ruleset(rules)
    torch.manual_seed(0)
    model = dcase2024_baseline_cnn().eval()

    def calibration():
        generator = torch.Generator().manual_seed(0)
        return [torch.randn((2, *SHAPE), generator=generator)]

    context = CompressionContext(calibration=calibration, ruleset=ruleset, input_shape=SHAPE)
    _, records = run_chain(model, build_steps([(c, {}) for c in chain]), context)
    return records[-1].after


@pytest.mark.parametrize("rules", ["dcase2023", "dcase2024", "dcase2025"])
def test_the_baselines_fp16_route_passes_every_rule_set_it_was_made_for(registry, rules):
    after = _route(registry, rules, ["fp16"])
    assert (after.parameters, after.bytes, after.macs, after.status) == (
        PARAMS, FP16_BYTES, MACS, "pass"
    )  # fmt: skip


def test_folding_batch_norm_passes_2024_counted_before_fusion_and_fails_2025(registry):
    before = _route(registry, "dcase2024", ["fold_batchnorm", "fp16"])
    assert (before.parameters, before.bytes, before.macs, before.status) == (
        PARAMS, FP16_BYTES, MACS, "pass"
    )  # fmt: skip
    deployed = _route(registry, "dcase2025", ["fold_batchnorm", "fp16"])
    assert deployed.macs == FOLDED_MACS and deployed.status == "fail"
    assert deployed.parameters == PARAMS - BN_CHANNELS


def test_int8_route_is_counted_before_fusion_under_2024(registry):
    after = _route(registry, "dcase2024", ["int8_static"])
    assert (after.parameters, after.bytes, after.macs, after.status) == (
        PARAMS, PARAMS, MACS, "pass"
    )  # fmt: skip


def test_weights_load_from_a_lightning_style_checkpoint_with_strict_keys(tmp_path):
    source = dcase2024_baseline_cnn()
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.5)
    state = {f"model.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "baseline.ckpt"
    torch.save({"state_dict": state, "epoch": 149}, path)
    loaded = dcase2024_baseline_cnn(weights=str(path)).eval()
    x = torch.randn(2, *SHAPE)
    assert torch.equal(loaded(x), source.eval()(x))

    del state["model.feed_forward.0.weight"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError, match=r"baseline\.ckpt: does not match .*1 missing keys"):
        dcase2024_baseline_cnn(weights=str(path))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a PyTorch weights file"):
        dcase2024_baseline_cnn(weights=str(path))
