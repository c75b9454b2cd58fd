"""The neutral clip module: a feature set and subsets of it are ClipData as they are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascbench.clips import ClipData, ClipSubset, TensorClips, collate, load_batch
from ascbench.features.cache import FeatureSet
from ascbench.systems import TrainingRecipe
from ascbench.training import RecipeError, TrainingError, seed_everything, train
from ascbench.training.options import EXTRA_OPTIONS, RecipeOptions, option_default
from tests.training.helpers import TinyNet, separable_clips, state


def _feature_set(n: int = 12) -> FeatureSet:
    rng = np.random.default_rng(0)
    return FeatureSet(
        rng.standard_normal((n, 1, 4, 5)).astype("float16"),
        [f"c{i}.wav" for i in range(n)],
        np.arange(n) % 10,
        ["a", "b", "s4"] * (n // 3),
    )


def _same(a, b) -> None:
    assert torch.equal(a.features, b.features) and a.features.dtype == torch.float32
    assert torch.equal(a.labels, b.labels) and torch.equal(a.indices, b.indices)
    assert (a.devices, a.filenames) == (b.devices, b.filenames)


def test_feature_set_batches_are_clip_data():
    features = _feature_set()
    assert isinstance(features, ClipData)
    x, label = features[4]  # a torch Dataset of (features, label)
    assert x.shape == (1, 4, 5) and label == 4
    rows = [7, 0, 11]
    items = [
        (features[i][0], features[i][1], features.devices[i], features.filenames[i]) for i in rows
    ]
    _same(features.batch(rows), collate(items, rows))
    _same(features.batch(torch.tensor(rows)), load_batch(features, rows))
    assert features.batch(rows).devices == ["b", "a", "s4"]


def test_subsets_index_their_own_rows():
    features = _feature_set()
    tensors = TensorClips(
        features.take(range(12)), features.labels, features.devices, features.filenames
    )
    for data in (features, tensors):
        subset = ClipSubset(data, [9, 2, 5])
        assert len(subset) == 3 and subset[1][1] == int(data[2][1])
        rows = [2, 0]
        fast = subset.batch(rows)
        _same(fast, collate([tensors[i] for i in (5, 9)], rows))
        assert fast.indices.tolist() == rows


def test_a_feature_set_trains_as_the_same_clips_as_tensors():
    clips = separable_clips(48, seed=3)
    features = FeatureSet(clips.features.numpy(), clips.filenames, clips.labels, clips.devices)
    recipe = TrainingRecipe(epochs=2, batch_size=16, mixup_alpha=0.3)
    runs = []
    for data, workers in ((clips, 0), (features, 0), (features, 1)):
        seed_everything(1)
        model = TinyNet()
        result = train(model, data, recipe, seed=1, progress=False, num_workers=workers)
        runs.append((state(model), [r.loss for r in result.history]))
    a, loss_a = runs[0]
    for b, loss_b in runs[1:]:
        assert loss_a == loss_b and all(torch.equal(a[k], b[k]) for k in a)


def test_validate_callback_replaces_validation_data():
    train_set, valid_set = separable_clips(48, seed=0), separable_clips(20, seed=1)
    recipe = TrainingRecipe(epochs=2, batch_size=16, checkpoint="best_valid_accuracy")
    seen = []

    def validate(model):
        seen.append(model)
        return 50.0 - len(seen), 1.0

    seed_everything(0)
    model = TinyNet()
    result = train(model, train_set, recipe, progress=False, validate=validate)
    assert seen == [model, model]
    assert [r.valid_accuracy for r in result.history] == [49.0, 48.0]
    assert result.weights == "best_valid_accuracy" and result.best_epoch == 1
    with pytest.raises(TrainingError, match="not both"):
        train(TinyNet(), train_set, recipe, progress=False, valid=valid_set, validate=validate)


def test_option_defaults_come_from_the_recipe_fields():
    recipe = TrainingRecipe()
    opts = RecipeOptions.from_recipe(recipe)
    assert opts.mixup_mode == recipe.mixup_mode and opts.checkpoint == recipe.checkpoint
    assert opts.memory_format == EXTRA_OPTIONS["memory_format"]
    assert option_default("optimizer_params") == {} and option_default("time_crop") is None
    with pytest.raises(RecipeError, match="not a recipe option"):
        option_default("warp_speed")
