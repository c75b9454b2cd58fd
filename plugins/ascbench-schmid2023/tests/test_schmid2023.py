"""CP-Mobile: the size the authors' counter gives, their frontend and network to float
tolerance (against a plain-torch restatement of their inference path), and the released
checkpoint's Lightning layout loading with strict keys (a generated checkpoint; the real file
is checked in test_schmid2023_released_weights.py when it is available)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from ascbench_schmid2023.cp_mobile import GRN, cp_mobile
from reference import authors_features, authors_logits

from ascbench.checkpoints import WeightsError
from ascbench.frontends.presets import preset
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system

SHAPE = (1, 256, 64)
#: torchinfo / the authors' nessi.py, before fusion; after their fuse_model()
PARAMS, MACS = 126_952, 28_893_268
FUSED_PARAMS, FUSED_MACS = 124_862, 29_561_088


def trained_looking(seed: int = 0) -> torch.nn.Module:
    """CP-Mobile with non-trivial weights, batch-norm statistics and GRN scalars."""
    model = cp_mobile()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("gamma", "beta")):
                p.copy_(0.3 * torch.randn(1, generator=gen))
            elif p.dim() == 1:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=gen))
    return model.eval()


def test_the_frontend_is_the_authors_to_float_tolerance():
    gen = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(3, 32000, generator=gen)
    ours = preset("cpmobile")(audio)
    assert tuple(ours.shape) == (3, *SHAPE)  # pre-emphasis drops a sample: 64 frames, not 65
    theirs = authors_features(audio)
    assert float((ours[:, 0] - theirs).abs().max()) < 1e-4


def test_the_network_is_the_authors_to_float_tolerance():
    model = trained_looking()
    state = model.state_dict()
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(x), authors_logits(state, x)
    assert float((ours - theirs).abs().max()) < 1e-4
    assert torch.equal(ours.argmax(1), theirs.argmax(1))


def test_size_and_key_layout_are_the_released_checkpoints():
    model = cp_mobile()
    assert sum(p.numel() for p in model.parameters()) == PARAMS
    keys = list(model.state_dict())
    assert len(keys) == 138  # the released state_dict's entries
    assert "stages.s1.b2.after_block_norm.gamma" in keys
    assert not any(k.startswith("stages.s2.b4.shortcut") for k in keys)


def test_grn_starts_as_the_identity_and_scales_by_the_channel_norm_ratio():
    grn = GRN()
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(grn(x), x)
    with torch.no_grad():
        grn.gamma.fill_(1.0)
    norms = x.pow(2).sum((2, 3), keepdim=True).sqrt()
    expected = x * (norms / (norms.mean(1, keepdim=True) + 1e-6)) + x
    assert torch.allclose(grn(x), expected, atol=1e-6)


def test_profile_under_dcase2023_counts_before_fusion_as_the_authors():
    registry = load_registry(environment=False)
    profile = profile_system(
        registry, registry.system("schmid2023_cpmobile"), registry.ruleset("dcase2023")
    )
    c = profile.complexity
    assert c.input_shape == [1, *SHAPE]
    assert (c.parameters, c.macs, c.bytes) == (PARAMS, MACS, PARAMS)  # int8: 1 B per value
    assert profile.status == "pass"
    deployed = f"{FUSED_PARAMS:,} parameters, 131,168 B, {FUSED_MACS:,} MACs"
    assert any(deployed in flag for flag in c.flags)


def test_the_released_lightning_layout_loads_with_strict_keys(tmp_path):
    source = trained_looking(seed=3)
    path = tmp_path / "epoch=149-step=81900.ckpt"
    state = {f"model.{k}": v for k, v in source.state_dict().items()}
    torch.save({"epoch": 149, "global_step": 81900, "state_dict": state,
                "optimizer_states": [{"state": {}}], "lr_schedulers": []}, path)  # fmt: skip
    loaded = cp_mobile(weights=str(path)).eval()
    x = torch.randn(2, *SHAPE)
    assert torch.equal(loaded(x), source(x))

    del state["model.stages.s3.b6.after_block_norm.beta"]
    torch.save({"state_dict": state}, path)
    with pytest.raises(WeightsError, match=r"does not match CP-Mobile.*1 missing keys"):
        cp_mobile(weights=str(path))


def test_the_profile_command_lists_the_system():
    out = subprocess.run(
        [sys.executable, "-m", "ascbench", "profile", "--rules", "dcase2023",
         "--system", "schmid2023_cpmobile"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    row = next(line for line in out.splitlines() if line.startswith("schmid2023_cpmobile"))
    assert "126,952" in row and "28,893,268" in row and row.split()[-1] == "pass"


def test_the_readme_numbers_are_generated_from_the_committed_results():
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "realclips.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
