"""Registered recipe parts: Frequency-MixStyle, the warm-up schedules, and a plugin's own
augmentation and schedule reaching the trainer through the registry."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from ascbench.build import build_training_parts
from ascbench.plugins import load_registry
from ascbench.systems import ComponentRef, System, TrainingRecipe
from ascbench.training import train
from ascbench.training.errors import RecipeError
from ascbench.training.parts import FreqMixStyle, exp_warmup_linear_down, warmup_cosine

from .helpers import TinyNet, separable_clips


def test_freq_mixstyle_mixes_per_frequency_statistics_between_examples():
    x = torch.randn(6, 2, 8, 20) * torch.arange(1, 9).view(1, 1, 8, 1) + 3.0
    targets = [torch.eye(10)[:6]]
    out, same = FreqMixStyle(p=1.0, alpha=0.3)(x, targets, np.random.default_rng(0))
    assert same is targets
    # replay the draws: the output has the mixed per-frequency mean of each example
    rng = np.random.default_rng(0)
    rng.random()
    lam = torch.from_numpy(rng.beta(0.3, 0.3, size=6)).float().view(-1, 1, 1, 1)
    perm = torch.from_numpy(rng.permutation(6))
    mu = x.mean(dim=(1, 3), keepdim=True)
    assert torch.allclose(out.mean(dim=(1, 3), keepdim=True), mu * lam + mu[perm] * (1 - lam),
                          atol=1e-4)  # fmt: skip
    assert not torch.allclose(out, x)


def test_freq_mixstyle_keeps_a_batch_with_probability_1_minus_p_and_checks_its_input():
    x = torch.randn(4, 1, 8, 10)
    out, _ = FreqMixStyle(p=0.0)(x, [], np.random.default_rng(0))
    assert out is x
    with pytest.raises(RecipeError, match="freq_mixstyle needs"):
        FreqMixStyle(p=1.5)
    with pytest.raises(RecipeError, match=r"\(batch, channels, freq, time\)"):
        FreqMixStyle(p=1.0)(torch.randn(4, 8, 10), [], np.random.default_rng(0))


def test_warmup_cosine_rises_linearly_then_anneals_to_its_floor():
    f = warmup_cosine(warmup_epochs=4, final_factor=0.1)
    assert f(0, 20) == 0.0 and f(2, 20) == 0.5 and f(4, 20) == 1.0
    assert math.isclose(f(12, 20), 0.1 + 0.9 * 0.5)
    assert math.isclose(f(20, 20), 0.1)


def test_cpjku_schedule_at_whole_epochs_is_the_published_one():
    f = exp_warmup_linear_down(warmup=14, rampdown_start=50, rampdown_length=84, last_value=0.005)
    assert math.isclose(f(0, 150), math.exp(-5 * (1 - 0.5 / 14) ** 2))
    assert math.isclose(f(7, 150), math.exp(-5 * 0.25))
    assert f(14, 150) == 1.0 and f(50, 150) == 1.0
    assert math.isclose(f(92, 150), 0.005 + 0.995 * (84 - 92 + 50) / 84)
    assert f(134, 150) == 0.005 and f(149, 150) == 0.005


def test_a_recipe_sets_one_schedule():
    with pytest.raises(ValidationError, match="both set the learning rate"):
        TrainingRecipe(scheduler="cosine", lr_schedule=ComponentRef(name="warmup_cosine"))


PLUGIN = """
from ascbench import hookimpl
from ascbench.components import AugmentationEntry, LrScheduleEntry

CALLS = []

class Negate:
    stage = "features"

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, x, targets, rng):
        CALLS.append(x.shape[0])
        return -self.scale * x, targets

def halving(step_every=1):
    return lambda epoch, epochs: 0.5 ** int(epoch // step_every)

@hookimpl
def register_augmentations():
    return [AugmentationEntry("negate", Negate, "negate the features")]

@hookimpl
def register_lr_schedules():
    return [LrScheduleEntry("halving", halving, "halve the lr every step_every epochs")]
"""


def test_a_plugins_augmentation_and_schedule_reach_the_trainer(tmp_path, monkeypatch):
    (tmp_path / "parts_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_registry(["parts_plugin"], entry_points=False, environment=False)
    assert registry.get("augmentation", "negate").plugin == "parts_plugin"
    assert {"freq_mixstyle"} <= set(registry.names("augmentation"))
    assert {"warmup_cosine", "exp_warmup_linear_down"} <= set(registry.names("lr_schedule"))
    recipe = TrainingRecipe(
        epochs=4, batch_size=16, lr=0.01,
        augmentations=[ComponentRef(name="freq_mixstyle", params={"p": 0.5}),
                       ComponentRef(name="negate", params={"scale": 2.0})],
        lr_schedule=ComponentRef(name="halving", params={"step_every": 1}),
    )  # fmt: skip
    system = System(name="parts", title="t", report="r", challenge="dcase2022",
                    frontend=ComponentRef(name="logmel"), model=ComponentRef(name="x"),
                    recipe=recipe)  # fmt: skip
    parts = build_training_parts(registry, system)
    import parts_plugin

    parts_plugin.CALLS.clear()
    data = separable_clips(64, seed=0)
    result = train(TinyNet(), data, recipe, seed=0, progress=False, parts=parts)
    assert sum(parts_plugin.CALLS) == 4 * 64  # every training example of every epoch
    # the budgeted run has the report's 4 epochs: lr halves at each epoch boundary
    assert [round(e.lr / 0.01, 4) for e in result.history] == [1.0, 0.5, 0.25, 0.125]
    # on 2 epochs the same schedule runs through in proportion (2 report epochs per epoch)
    short = train(TinyNet(), data, recipe, epochs=2, seed=0, progress=False, parts=parts)
    assert [round(e.lr / 0.01, 4) for e in short.history] == [1.0, 0.25]
    with pytest.raises(RecipeError, match="not built"):
        train(TinyNet(), data, recipe, seed=0, progress=False)


def _write_irs(folder, responses, rate=16000):
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    for i, ir in enumerate(responses):
        sf.write(folder / f"ir{i}.wav", np.asarray(ir, dtype=np.float32), rate, subtype="FLOAT")
    return folder


def test_device_ir_convolves_only_the_chosen_devices_clips(tmp_path):
    from ascbench.training.parts import DeviceImpulseResponse

    delay = np.zeros(8)
    delay[3] = 0.5  # a 3-sample delay at half gain
    aug = DeviceImpulseResponse(str(_write_irs(tmp_path / "irs", [delay])), p=1.0,
                                sample_rate=16000)  # fmt: skip
    wave = torch.randn(3, 100, generator=torch.Generator().manual_seed(0))
    out, targets = aug(wave, ["t"], np.random.default_rng(0), ["a", "b", "a"])
    assert targets == ["t"]
    expected = torch.zeros(100)
    expected[3:] = 0.5 * wave[0, :97]
    assert torch.allclose(out[0], expected, atol=1e-6)
    assert torch.equal(out[1], wave[1])  # device b: untouched
    none, _ = DeviceImpulseResponse(str(tmp_path / "irs"), p=0.0, sample_rate=16000)(
        wave, [], np.random.default_rng(0), ["a"] * 3
    )
    assert torch.equal(none, wave)
    with pytest.raises(RecipeError, match="holds no .wav impulse responses"):
        DeviceImpulseResponse(str(tmp_path / "empty"))


def test_waveform_roll_wraps_each_clip_by_its_own_shift():
    from ascbench.training.parts import WaveformRoll

    wave = torch.arange(20.0).repeat(4, 1)
    out, _ = WaveformRoll(max_shift=5)(wave, [], np.random.default_rng(1), ["a"] * 4)
    shifts = np.random.default_rng(1).integers(-5, 5, size=4, endpoint=True)
    for row, s in zip(out, shifts, strict=True):
        assert torch.equal(row, wave[0].roll(int(s)))


def test_waveform_augmentations_train_on_features_computed_per_batch(tmp_path):
    from ascbench.features.waveforms import AudioStore
    from ascbench.frontends import LogMel
    from ascbench.training.parts import TrainingParts, WaveformRoll

    frontend = LogMel(sample_rate=8000, n_fft=256, hop_length=128, n_mels=8, log="ln",
                      amin=1e-5)  # fmt: skip
    n = 32
    gen = torch.Generator().manual_seed(0)
    audio = torch.randn(n, 2000, generator=gen) * (1 + torch.arange(n).view(-1, 1) % 10)
    names = [f"clip{i}.wav" for i in range(n)]
    cached = frontend(audio)
    from ascbench.training import TensorClips

    data = TensorClips(cached, torch.arange(n) % 10, ["a"] * n, names)
    seen = []

    class Spy:
        stage = "waveform"

        def __call__(self, wave, targets, rng, devices):
            seen.append((tuple(wave.shape), devices[:1]))
            return wave, targets

    recipe = TrainingRecipe(epochs=2, batch_size=8,
                            augmentations=[ComponentRef(name="spy"),
                                           ComponentRef(name="waveform_roll")])  # fmt: skip
    store = AudioStore(audio.numpy().astype(np.float16), names, 8000)
    parts = TrainingParts(waveform_augmentations=(Spy(), WaveformRoll(100)), frontend=frontend,
                          audio=store)  # fmt: skip
    model = TinyNet()
    train(model, data, recipe, seed=0, progress=False, parts=parts)
    assert len(seen) == 2 * n // 8 and seen[0] == ((8, 2000), ["a"])
    no_audio = TrainingParts(waveform_augmentations=(Spy(), Spy()), frontend=frontend)
    with pytest.raises(RecipeError, match="training audio was not loaded"):
        train(TinyNet(), data, recipe, seed=0, progress=False, parts=no_audio)
