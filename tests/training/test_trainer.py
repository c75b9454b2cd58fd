from __future__ import annotations

import math

import pytest
import torch

from ascbench.errors import AscbenchError
from ascbench.evaluation import evaluate
from ascbench.systems import SpecAugment, TrainingRecipe
from ascbench.training import (
    DeviceUnavailableError,
    RecipeError,
    Teacher,
    TensorClips,
    TrainingDiverged,
    TrainingError,
    resolve_device,
    seed_everything,
    train,
)
from ascbench.training.ema import ModelEma
from tests.training.helpers import TinyNet, separable_clips, state

FULL = TrainingRecipe(
    epochs=3,
    batch_size=16,
    optimizer="adamw",
    lr=5e-3,
    weight_decay=1e-4,
    scheduler="cosine",
    scheduler_params={"interval": "step", "eta_min": 1e-5},
    loss="focal",
    label_smoothing=0.1,
    mixup_alpha=0.3,
    specaugment=SpecAugment(time_masks=2, time_width=3, freq_masks=1, freq_width=2),
    ema_decay=0.9,
    extra={"time_shift": 0.2, "freq_shift": 1},
)


def fresh(seed: int = 0) -> TinyNet:
    seed_everything(seed)
    return TinyNet()


@pytest.fixture(scope="module")
def data():
    return separable_clips(120, seed=0), separable_clips(100, seed=1)


def test_tiny_problem_learns(data):
    train_set, test_set = data
    model = fresh()
    recipe = TrainingRecipe(epochs=10, batch_size=16, lr=1e-2)
    result = train(model, train_set, recipe, progress=False)
    scores, preds = evaluate(model, test_set)
    assert scores.accuracy > 80  # chance is 10 %
    assert result.history[-1].loss < result.history[0].loss / 3
    assert preds.probabilities.shape == (100, 10)
    assert result.epochs_completed == 10 and not result.truncated
    assert result.steps == 10 * math.ceil(120 / 16) == result.steps_per_epoch * 10


def test_same_seed_gives_bit_identical_weights(data):
    train_set, _ = data
    runs = []
    for seed in (7, 7, 8):
        model = fresh(seed)
        result = train(model, train_set, FULL, seed=seed, progress=False)
        runs.append((state(model), [r.loss for r in result.history]))
    (a, loss_a), (b, loss_b), (c, _) = runs
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert loss_a == loss_b
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_same_init_different_seed_changes_data_order(data):
    train_set, _ = data
    a, b = fresh(0), fresh(0)
    train(a, train_set, TrainingRecipe(epochs=1, batch_size=16), seed=1, progress=False)
    train(b, train_set, TrainingRecipe(epochs=1, batch_size=16), seed=2, progress=False)
    assert not torch.equal(a.fc.weight, b.fc.weight)


def test_deterministic_mode_is_restored(data):
    train_set, _ = data
    before = torch.are_deterministic_algorithms_enabled()
    train(fresh(), train_set, TrainingRecipe(epochs=1), progress=False)
    assert torch.are_deterministic_algorithms_enabled() == before


def test_epoch_budget_overrides_recipe_and_schedule_follows_it(data):
    train_set, _ = data
    recipe = TrainingRecipe(
        epochs=200, lr=1e-3, scheduler="cosine", scheduler_params={"eta_min": 1e-5}
    )
    result = train(fresh(), train_set, recipe, epochs=2, progress=False)
    assert result.epochs_planned == 2 and len(result.history) == 2
    assert math.isclose(result.history[0].lr, 1e-3)
    assert math.isclose(result.history[1].lr, (1e-3 + 1e-5) / 2)


def test_minutes_budget_stops_at_end_of_epoch(data):
    train_set, _ = data
    recipe = TrainingRecipe(epochs=50, scheduler="cosine", lr=1e-3)
    result = train(fresh(), train_set, recipe, max_minutes=1e-5, progress=False)
    assert result.truncated and result.epochs_completed == 1 and len(result.history) == 1
    assert result.epochs_planned == 50 and "time budget" in result.stop_reason
    assert result.history[0].steps == result.steps_per_epoch  # the epoch ran to its end
    assert result.seconds > 1e-5 * 60


def test_nan_features_raise_training_diverged(data):
    train_set, _ = data
    x = train_set.features.clone()
    x[5, 0, 0, 0] = float("nan")
    bad = TensorClips(x, train_set.labels, train_set.devices)
    model = fresh()
    recipe = TrainingRecipe(epochs=2, batch_size=200, frozen_layers=["conv1"])
    with pytest.raises(TrainingDiverged, match="features hold NaN") as info:
        train(model, bad, recipe, progress=False)
    assert all(p.requires_grad for p in model.parameters())  # thawed even after failing
    assert "\n" not in str(info.value)
    assert info.value.result is not None and info.value.result.diverged
    assert isinstance(info.value, AscbenchError)


def test_exploding_lr_raises_training_diverged(data):
    train_set, _ = data
    recipe = TrainingRecipe(epochs=5, batch_size=16, optimizer="sgd", lr=1e32, momentum=0.0)
    with pytest.raises(TrainingDiverged, match="diverged") as info:
        train(fresh(), train_set, recipe, progress=False, description="tiny")
    assert str(info.value).startswith("tiny diverged")


def test_frozen_layers_stay_unchanged(data):
    train_set, _ = data
    model = fresh()
    before = state(model)
    recipe = TrainingRecipe(
        epochs=2, optimizer="adamw", weight_decay=0.1, frozen_layers=["conv1", "bn1.weight"]
    )
    result = train(model, train_set, recipe, progress=False)
    after = state(model)
    for name in ("conv1.weight", "conv1.bias", "bn1.weight"):
        assert torch.equal(before[name], after[name]), name
    for name in ("bn1.bias", "fc.weight", "fc.bias"):
        assert not torch.equal(before[name], after[name]), name
    assert all(r.frozen for r in result.history)
    assert all(p.requires_grad for p in model.parameters())  # handed back trainable


def test_frozen_for_first_epochs_only(data):
    train_set, _ = data
    model = fresh()
    before = state(model)
    recipe = TrainingRecipe(epochs=2, frozen_layers=["conv1"], extra={"frozen_epochs": 1})
    result = train(model, train_set, recipe, progress=False)
    assert [r.frozen for r in result.history] == [True, False]
    assert not torch.equal(before["conv1.weight"], model.conv1.weight)


def test_frozen_prefix_must_match_whole_names(data):
    train_set, _ = data
    with pytest.raises(RecipeError, match="matches no parameter"):
        train(fresh(), train_set, TrainingRecipe(frozen_layers=["conv"]), progress=False)


def test_ema_weights_are_the_average(data):
    train_set, _ = data
    # one step (one batch, one epoch): EMA = d·w0 + (1 - d)·w1, d warmed up to min(0.75, 1/10)
    recipe = TrainingRecipe(epochs=1, batch_size=200, lr=0.05, ema_decay=0.75)
    model = fresh()
    w0 = state(model)
    result = train(model, train_set, recipe, progress=False)
    assert result.weights == "ema"
    plain = fresh()
    train(plain, train_set, recipe.model_copy(update={"ema_decay": None}), progress=False)
    w1 = state(plain)
    for name, value in state(model).items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.1 * w0[name] + 0.9 * w1[name], atol=1e-6), name
    assert not torch.equal(model.fc.weight, plain.fc.weight)


def test_model_ema_update_rule():
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    ema = ModelEma(lin, decay=0.9)
    with torch.no_grad():
        lin.weight.fill_(2.0)
    # warm-up: d = min(decay, (1 + t) / (10 + t)) for update t = 0, 1, ...
    assert ema.current_decay == pytest.approx(0.1)
    ema.update(lin)
    ema.update(lin)
    d0, d1 = 0.1, 2 / 11
    expected = d1 * (d0 * 1 + (1 - d0) * 2) + (1 - d1) * 2
    assert torch.allclose(ema.module.weight, torch.full((1, 2), expected))
    assert not ema.module.weight.requires_grad
    ema.updates = 1000  # a long run: the decay is the recipe's
    assert ema.current_decay == 0.9


def test_ema_forgets_the_initial_weights_within_a_short_run():
    # Deepsound's decay 0.999 over 300 steps: without warm-up the average would still hold
    # 0.999**300 = 74 % of the random initial weights; with it, under 0.1 %.
    lin = torch.nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema = ModelEma(lin, decay=0.999)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    for _ in range(300):
        ema.update(lin)
    assert float(ema.module.weight.min()) > 0.97


def test_full_recipe_with_validation_and_best_checkpoint(data):
    train_set, test_set = data
    recipe = FULL.model_copy(
        update={"epochs": 3, "extra": {"checkpoint": "best_valid_loss", "time_crop": 12}}
    )
    model = fresh()
    result = train(model, train_set, recipe, valid=test_set, progress=False)
    losses = [r.valid_log_loss for r in result.history]
    assert all(v is not None for v in losses)
    assert result.weights == "best_valid_loss"
    assert result.best_epoch == 1 + losses.index(min(losses))
    scores, _ = evaluate(model, test_set)
    assert math.isclose(scores.log_loss, min(losses), rel_tol=1e-9)


def test_best_checkpoint_without_validation_keeps_last_weights(data):
    train_set, _ = data
    recipe = TrainingRecipe(epochs=1, extra={"checkpoint": "best_valid_accuracy"})
    result = train(fresh(), train_set, recipe, progress=False)
    assert result.weights == "last" and result.best_epoch is None
    assert "needs validation data" in result.notes[0]


def test_two_batch_mixup_halves_the_steps(data):
    train_set, _ = data
    recipe = TrainingRecipe(
        epochs=1, batch_size=10, mixup_alpha=0.4, extra={"mixup_mode": "two_batches"}
    )
    result = train(fresh(), train_set, recipe, progress=False)
    assert result.steps_per_epoch == 6 and result.history[0].clips == 60


def test_drop_last(data):
    train_set, _ = data
    recipe = TrainingRecipe(epochs=1, batch_size=50, extra={"drop_last": True})
    result = train(fresh(), train_set, recipe, progress=False)
    assert result.steps_per_epoch == 2 and result.history[0].clips == 100


def test_distillation(data):
    train_set, test_set = data
    recipe = TrainingRecipe(epochs=6, batch_size=16, lr=1e-2)
    # a teacher weight of 0 leaves training exactly as without a teacher
    logits = torch.randn(len(train_set), 10, generator=torch.Generator().manual_seed(0))
    a, b = fresh(), fresh()
    train(a, train_set, recipe.model_copy(update={"epochs": 1}), progress=False)
    train(
        b,
        train_set,
        recipe.model_copy(update={"epochs": 1}),
        teacher=Teacher(logits, temperature=2.0, weight=0.0),
        progress=False,
    )
    assert torch.allclose(a.fc.weight, b.fc.weight, atol=1e-6)
    # pure distillation from a teacher that knows the labels teaches the student
    confident = 8.0 * torch.nn.functional.one_hot(train_set.labels, 10).float()
    student = fresh()
    train(
        student,
        train_set,
        recipe,
        teacher=Teacher(confident, temperature=2.0, weight=1.0),
        progress=False,
    )
    assert evaluate(student, test_set)[0].accuracy > 70
    with pytest.raises(TrainingError, match="teacher logits"):
        train(fresh(), train_set, recipe, teacher=Teacher(logits[:5]), progress=False)


def test_bad_labels_and_data(data):
    train_set, _ = data
    bad = TensorClips(train_set.features, train_set.labels + 5)
    with pytest.raises(TrainingError, match="outside 0..9"):
        train(fresh(), bad, TrainingRecipe(epochs=1), progress=False)
    with pytest.raises(TrainingError, match="__len__"):
        train(fresh(), object(), TrainingRecipe(), progress=False)
    with pytest.raises(RecipeError, match="mixup_mode"):
        train(fresh(), train_set, TrainingRecipe(extra={"mixup_mode": "cutmix"}), progress=False)


def test_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(DeviceUnavailableError, match="unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_training_runs(data):
    train_set, _ = data
    model = fresh()
    result = train(model, train_set, FULL, device="cuda", progress=False)
    assert result.device.startswith("cuda") and next(model.parameters()).is_cuda


class ListClips:
    """A plain ClipData: a list of (numpy features, label, device, filename) tuples."""

    def __init__(self, clips: TensorClips):
        self.items = [
            (clips.features[i].numpy(), int(clips.labels[i]), clips.devices[i], clips.filenames[i])
            for i in range(len(clips))
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_any_clip_data_and_workers_give_the_same_weights(data):
    train_set, _ = data
    recipe = FULL.model_copy(update={"epochs": 1})
    models = []
    for dataset, workers in ((train_set, 0), (ListClips(train_set), 0), (ListClips(train_set), 1)):
        model = fresh()
        train(model, dataset, recipe, progress=False, num_workers=workers)
        models.append(state(model))
    for other in models[1:]:
        assert all(torch.equal(models[0][k], other[k]) for k in models[0])


def test_time_crop_longer_than_the_clips_is_skipped_with_a_note():
    from ascbench.systems import TrainingRecipe
    from ascbench.training import TensorClips, train

    torch.manual_seed(0)
    x = torch.randn(16, 1, 8, 12)
    y = torch.arange(16) % 2
    data = TensorClips(x, y)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 12, 2))
    recipe = TrainingRecipe(epochs=1, batch_size=8, time_crop=512)
    result = train(model, data, recipe, progress=False)
    assert any("time_crop of 512 frames not applied" in n for n in result.notes)
    assert result.epochs_completed == 1


def test_model_ema_multi_tensor_update_gives_the_loop_s_numbers():
    """The foreach EMA update is the per-tensor rule avg·d + (1 - d)·value, bit for bit."""
    seed_everything(3)
    model = TinyNet()
    ema = ModelEma(model, decay=0.99)
    expected = {k: v.clone() for k, v in ema.state_dict().items()}
    for _ in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model.bn1.running_mean.add_(1.0)
            model.bn1.num_batches_tracked.add_(1)
        d = ema.current_decay
        for name, value in model.state_dict().items():
            if expected[name].is_floating_point():
                expected[name].mul_(d).add_(value, alpha=1.0 - d)
            else:
                expected[name].copy_(value)
        ema.update(model)
    assert all(torch.equal(expected[k], v) for k, v in ema.state_dict().items())


def test_training_restores_the_uninitialised_memory_fill(data):
    train_set, _ = data
    fill = torch.utils.deterministic
    before = fill.fill_uninitialized_memory
    try:
        for setting in (True, False):
            fill.fill_uninitialized_memory = setting
            train(fresh(), train_set, TrainingRecipe(epochs=1), progress=False)
            assert fill.fill_uninitialized_memory is setting
    finally:
        fill.fill_uninitialized_memory = before


def test_channels_last_recipe_option_is_deterministic_and_gives_back_a_contiguous_model(data):
    train_set, test_set = data
    recipe = FULL.model_copy(update={"extra": {**FULL.extra, "memory_format": "channels_last"}})
    runs = []
    for _ in range(2):
        model = fresh(5)
        result = train(model, train_set, recipe, seed=5, progress=False)
        assert model.conv1.weight.is_contiguous()
        runs.append((state(model), [r.loss for r in result.history]))
    (a, loss_a), (b, loss_b) = runs
    assert all(torch.equal(a[k], b[k]) for k in a) and loss_a == loss_b
    plain = fresh(5)
    train(plain, train_set, FULL, seed=5, progress=False)  # the default layout: close numbers
    assert torch.allclose(plain.fc.weight, runs[0][0]["fc.weight"], atol=1e-3)
    with pytest.raises(RecipeError, match="memory_format"):
        train(fresh(), train_set, TrainingRecipe(extra={"memory_format": "nhwc"}), progress=False)
