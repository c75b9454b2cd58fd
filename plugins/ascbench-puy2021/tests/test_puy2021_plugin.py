"""The plugin as ascbench sees it: discovery, the three systems, profiling, the deployed chain."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ascbench_puy2021.inference import compress

from ascbench.build import build_model, feature_shape
from ascbench.complexity import measure
from ascbench.profiling import profile_system

SYSTEMS = ("puy2021_ce_tta", "puy2021_ce_mu_tta", "puy2021_fl_tta")


@pytest.fixture(scope="module")
def registry():
    from ascbench.plugins import load_registry

    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "puy2021"]
    assert info.origin == "entry point" and info.distribution == "ascbench-puy2021"
    assert info.registered == {"model": ["sp4asc_cnn"], "system": list(SYSTEMS)}
    assert not info.errors


@pytest.mark.parametrize(
    "name, delta_f, mixup, loss, reported",
    [
        ("puy2021_ce_tta", 32, None, "cross_entropy", (0.90, 66.8)),
        ("puy2021_ce_mu_tta", 16, 0.2, "cross_entropy", (0.93, 66.2)),
        ("puy2021_fl_tta", 32, None, "focal", (0.88, 68.7)),
    ],
)
def test_systems_carry_the_report_recipe(registry, name, delta_f, mixup, loss, reported):
    s = registry.system(name)
    assert s.challenge == "dcase2021" and not s.proposal
    assert s.model.name == "sp4asc_cnn"
    assert s.model.params == {"dropout": 0.2, "specaugment": [128, 2, delta_f, 2], "weights": None}
    assert s.frontend.name == "logmel-preset" and s.frontend.params == {"name": "puy2021"}
    frontend = registry.get("frontend", s.frontend.name).build(**s.frontend.params)
    assert (frontend.n_mels, frontend.hop_length, frontend.pad_mode) == (256, 1024, "reflect")
    r = s.recipe
    assert (r.epochs, r.batch_size, r.optimizer, r.lr, r.weight_decay) == (
        200,
        32,
        "adamw",
        1e-3,
        1e-5,
    )
    assert r.scheduler == "cosine"
    assert r.scheduler_params == {"eta_min": 1e-5, "interval": "epoch"}
    assert (r.loss, r.mixup_alpha) == (loss, mixup)
    assert r.focal_gamma == 1.0
    assert r.specaugment is None  # applied inside the model, after BN-mel
    assert r.extra["specaugment"]["upstream"] == [128, 2, delta_f, 2]
    assert r.drop_last is True and r.mixup_mode == "batch"
    assert [(c.name, c.params) for c in s.compressors] == [
        ("fold_batchnorm", {"eps": False, "arithmetic": "native"}),
        ("fp16", {}),
    ]
    assert s.evaluation.tta_passes == 30
    assert s.evaluation.tta_params["method"] == "model"  # SpecAugment in train mode, in-model
    assert f"[128, 2, {delta_f}, 2]" in s.evaluation.tta_params["description"]
    assert (s.reported.log_loss, s.reported.accuracy) == reported
    assert (s.reported.parameters, s.reported.bytes) == (62_474, 124_948)


def test_reported_numbers_without_tta_and_for_the_released_focal_model(registry):
    from ascbench_puy2021.plugin import RELEASED_FOCAL_CHECKPOINT_SCORES, REPORTED_SCORES

    assert REPORTED_SCORES["puy2021_ce_tta"]["no_tta"] == {"log_loss": 1.10, "accuracy": 65.8}
    assert "1.10" in registry.system("puy2021_ce_tta").reported.source
    assert RELEASED_FOCAL_CHECKPOINT_SCORES["tta30"] == {"log_loss": 0.89, "accuracy": 67.0}
    assert "0.94 / 67.1" in registry.system("puy2021_fl_tta").reported.source


def analytic_macs(frames: int, mels: int, folded: bool) -> int:
    """NeSsi-torch MACs of the network on one clip: 1x1 conv cin per output value, depthwise
    3x1 + 1x3 convs 6, a conv bias 1 (only after folding, on sp_conv2), batch norm 2 per
    channel (BN-mel, and the block BNs before folding), Linear in*out + out."""
    macs, cin = 2 * mels, 1
    for cout in (64, 128, 128, 128):
        macs += frames * mels * cout * (cin + 6)
        macs += frames * mels * cout if folded else 2 * cout
        frames, mels, cin = frames // 2, mels // 2, cout
    return macs + 128 * 128 + 128 + 128 * 10 + 10


def test_profile_applies_the_chain_and_counts_every_stage(registry):
    profile = profile_system(
        registry, registry.system("puy2021_fl_tta"), registry.ruleset("dcase2021")
    )
    assert profile.status == "pass", profile.error
    c = profile.complexity
    assert c.input_shape == [1, 1, 256, 431]
    stages = {s.name: s for s in profile.stages}
    assert list(stages) == ["uncompressed", "fold_batchnorm", "fp16"]
    # training-time network: BN running mean and variance counted (the report's 64,330)
    assert stages["uncompressed"].parameters == 64_330
    assert stages["uncompressed"].macs == analytic_macs(431, 256, folded=False) == 442_575_626
    assert stages["fold_batchnorm"].parameters == 62_474
    assert stages["fold_batchnorm"].macs == analytic_macs(431, 256, folded=True)
    assert (c.parameters, c.macs) == (62_474, 454_252_426)
    assert c.bytes == 2 * c.nonzero_parameters  # float16 storage (untrained: zero biases)


def test_deployed_trained_system_fits_dcase2021_and_exceeds_the_2022_mac_limit(
    registry, randomise_net
):
    """On trained-looking weights (no zero biases) fold + fp16 gives 124,948 B. Byte counts do
    not depend on the clip length, so the 2021 counting is applied to 1-s clips here."""
    system = registry.system("puy2021_ce_tta")
    short_2021 = registry.ruleset("dcase2021").model_copy(update={"clip_seconds": 1.0})
    for ruleset, expected in ((short_2021, "pass"), (registry.ruleset("dcase2022"), "fail")):
        shape = feature_shape(registry, system, ruleset)
        assert shape == (1, 256, 44)
        model = randomise_net(build_model(registry, system, shape, ruleset.num_classes))
        deployed = compress(model, system.compressors, input_shape=shape)
        report = measure(deployed, ruleset, shape)
        assert report.parameters == 62_474
        assert report.status == expected
        if ruleset is short_2021:
            assert report.bytes == 124_948 <= 128_000
        else:  # 46.3 M MACs per 1-s clip > 30 M
            assert report.macs == analytic_macs(44, 256, folded=True) > 30_000_000


def test_ascbench_evaluator_runs_the_model_tta_like_the_plugin(registry, randomise_net, features):
    from ascbench_puy2021.inference import predict_proba

    from ascbench.evaluation import build_tta
    from ascbench.evaluation.evaluate import ModelTestTimeAugmentation, predict
    from ascbench.training.data import TensorClips

    system = registry.system("puy2021_ce_mu_tta")
    tta = build_tta(system.evaluation, system.recipe)
    assert isinstance(tta, ModelTestTimeAugmentation) and tta.seed == 0
    shape = (1, 256, 24)
    net = randomise_net(build_model(registry, system, shape, 10), tiny_var=False)
    deployed = compress(net, system.compressors, input_shape=shape)
    x = features(3, time=24)
    clips = TensorClips(x)
    core = predict(deployed, clips, tta_passes=3, tta=tta, batch_size=64)
    ours = predict_proba(deployed, x, passes=3, seed=0, batch_size=64, clips=clips.filenames)
    plain = predict_proba(deployed, x, passes=1)
    assert torch.allclose(torch.from_numpy(core.probabilities).float(), ours, atol=1e-6)
    assert not torch.allclose(ours, plain, atol=1e-4)
    # a clip's masks depend on (seed, clip, pass) only: not on the batch size or the order
    small = predict(deployed, clips, tta_passes=3, tta=tta, batch_size=1)
    assert np.array_equal(small.probabilities, core.probabilities)
    order = [2, 0, 1]
    shuffled = predict_proba(deployed, x[order], passes=3, seed=0, batch_size=2,
                             clips=[clips.filenames[i] for i in order])  # fmt: skip
    assert torch.equal(shuffled, ours[order])


def test_trains_with_the_core_trainer_and_reloads_compressed(registry, features, tmp_path):
    """Two steps of the mixup recipe through ascbench's trainer (in-model SpecAugment,
    drop_last), then the compressed model round-trips through ascbench's storage."""
    from ascbench.compressors import chain_spec, load_compressed, save_compressed
    from ascbench.training import train
    from ascbench.training.data import TensorClips

    shape = (1, 64, 16)  # a small input: the recipe, not the size, is under test
    x = features(10, freq=64, time=16)
    system = registry.system("puy2021_ce_mu_tta")
    recipe = system.recipe.model_copy(update={"batch_size": 4})
    torch.manual_seed(0)
    model = build_model(registry, system, shape, 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = train(model, TensorClips(x, torch.arange(10)), recipe, epochs=1, seed=0)
    assert result.epochs_completed == 1 and not result.diverged
    assert result.steps == 2  # 10 clips in batches of 4: the incomplete batch is dropped
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "conv1.bn.running_var" in changed and "fc2.weight" in changed

    deployed = compress(model.eval(), system.compressors, input_shape=shape)
    spec = chain_spec([(c.name, c.params) for c in system.compressors], shape)
    path = save_compressed(tmp_path / "model.pt", deployed, spec)
    loaded, _ = load_compressed(path, lambda: build_model(registry, system, shape, 10))
    with torch.no_grad():
        assert torch.equal(loaded(x), deployed(x))


def test_the_readme_cli_numbers_are_generated_from_the_committed_results():
    """The README's released-weights table is scripts/realclips_cli.py's rendering of
    results/cli-realclips.json (measured by `--run` on real clips outside the test suite)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "realclips_cli.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
