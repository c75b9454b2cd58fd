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
