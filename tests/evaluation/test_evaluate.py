from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss as sk_log_loss

from ascbench.evaluation import (
    EvaluationError,
    ExpectedCalibrationError,
    ModelTestTimeAugmentation,
    TestTimeAugmentation,
    build_tta,
    clip_seed,
    evaluate,
)
from ascbench.scenes import DEVICES, SCENES
from ascbench.systems import EvaluationSettings, SpecAugment, TrainingRecipe
from ascbench.training import TensorClips


class LogitsInFeatures(torch.nn.Module):
    """Returns features[:, 0, :10, 0] as logits; dropout and BN show whether eval mode is used."""

    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)
        self.bn = torch.nn.BatchNorm1d(10, affine=False)

    def forward(self, x):
        return self.drop(self.bn(x[:, 0, :10, 0]))


@pytest.fixture(scope="module")
def clips():
    g = torch.Generator().manual_seed(0)
    n = 90
    labels = torch.arange(n) % 10
    x = torch.randn(n, 1, 12, 4, generator=g)
    x[torch.arange(n), 0, labels, 0] += 2.0
    devices = [DEVICES[i % 9] for i in range(n)]
    return TensorClips(x, labels, devices, [f"audio/{i}.wav" for i in range(n)])


def test_evaluate_uses_eval_mode_and_dcase_metrics(clips):
    model = LogitsInFeatures()
    model.train()
    result, preds = evaluate(model, clips, batch_size=16)
    assert model.training  # mode restored
    # eval mode: BN running stats are the defaults (mean 0, var 1), dropout off
    logits = clips.features[:, 0, :10, 0].double() / math.sqrt(1 + 1e-5)
    expected = torch.softmax(logits, 1).numpy()
    np.testing.assert_allclose(preds.probabilities, expected, rtol=1e-6)
    y = clips.labels.numpy()
    ref_ll = np.mean(
        [sk_log_loss(y[y == k], expected[y == k], labels=list(range(10))) for k in range(10)]
    )
    assert math.isclose(result.log_loss, ref_ll, rel_tol=1e-6)
    pred = expected.argmax(1)
    ref_acc = 100 * np.mean([np.mean(pred[y == k] == k) for k in range(10)])
    assert math.isclose(result.accuracy, ref_acc)
    assert result.n_clips == 90 and result.labelled
    assert list(result.class_wise) == list(SCENES)
    assert list(result.device_wise) == list(DEVICES)
    assert set(result.device_groups) == {"real", "seen", "unseen"}
    assert result.device_wise["s4"]["n"] == 10
    assert 0 <= result.ece <= 1
    assert preds.filenames[:2] == ["audio/0.wav", "audio/1.wav"]
    assert preds.predicted_labels()[0] == SCENES[int(pred[0])]


def test_extra_evaluators_are_fed(clips):
    result, _ = evaluate(
        LogitsInFeatures(), clips, evaluators={"ece_again": ExpectedCalibrationError(bins=15)}
    )
    assert math.isclose(result.extra["ece_again"]["ece"], result.ece)


def test_tta_averages_softmax_over_passes(clips):
    """Each pass augments each clip with its own generator, seeded by (seed, clip, pass)."""

    def tta(x, rng):
        out = x.clone()
        out[:, 0, 0, 0] += 2 * float(rng.standard_normal())  # logit of class 0 moves
        return out

    model = LogitsInFeatures()
    _, preds = evaluate(model, clips, batch_size=100, tta_passes=3, tta=tta, seed=5)
    logits = clips.features[:, 0, :10, 0].double() / math.sqrt(1 + 1e-5)
    expected = torch.zeros(len(clips), 10, dtype=torch.float64)
    for i, name in enumerate(clips.filenames):
        for tta_pass in range(3):
            shifted = clips.features[i, 0, :10, 0].double().clone()
            shifted[0] += 2 * float(np.random.default_rng(clip_seed(5, name, tta_pass))
                                    .standard_normal())  # fmt: skip
            expected[i] += torch.softmax(shifted / math.sqrt(1 + 1e-5), 0) / 3
    np.testing.assert_allclose(preds.probabilities, expected.numpy(), rtol=1e-6)
    assert not np.allclose(preds.probabilities, torch.softmax(logits, 1).numpy())


@pytest.mark.parametrize("method", ["input", "model"])
def test_a_clips_tta_depends_on_the_seed_and_the_clip_only(clips, method):
    """The same seed gives identical probabilities at batch sizes 8 and 64, and with the
    clips in another order (issue: masks used to follow the batch's position in the run)."""
    if method == "input":
        model = LogitsInFeatures()
        tta = TestTimeAugmentation(
            specaugment=SpecAugment(time_masks=1, time_width=2, freq_masks=2, freq_width=4),
            time_shift=0.5,
        )
    else:
        model, tta = SelfAugmenting(), ModelTestTimeAugmentation()
    at_8 = evaluate(model, clips, batch_size=8, tta_passes=3, tta=tta, seed=4)[1]
    at_64 = evaluate(model, clips, batch_size=64, tta_passes=3, tta=tta, seed=4)[1]
    assert np.array_equal(at_8.probabilities, at_64.probabilities)
    order = list(reversed(range(len(clips))))
    reordered = TensorClips(clips.features[order], clips.labels[order],
                            [clips.devices[i] for i in order],
                            [clips.filenames[i] for i in order])  # fmt: skip
    back = evaluate(model, reordered, batch_size=8, tta_passes=3, tta=tta, seed=4)[1]
    assert np.array_equal(back.probabilities, at_8.probabilities[order])
    other_seed = evaluate(model, clips, batch_size=8, tta_passes=3, tta=tta, seed=5)[1]
    assert not np.array_equal(other_seed.probabilities, at_8.probabilities)


def test_specaugment_tta_is_seeded(clips):
    settings = EvaluationSettings(tta_passes=4, tta_params={"specaugment": True})
    recipe = TrainingRecipe(
        specaugment=SpecAugment(time_masks=1, time_width=2, freq_masks=2, freq_width=4)
    )
    tta = build_tta(settings, recipe)
    assert isinstance(tta, TestTimeAugmentation) and tta.specaugment == recipe.specaugment
    model = LogitsInFeatures()
    a = evaluate(model, clips, tta_passes=4, tta=tta, seed=1)
    b = evaluate(model, clips, tta_passes=4, tta=tta, seed=1)
    c = evaluate(model, clips, tta_passes=4, tta=tta, seed=2)
    plain = evaluate(model, clips)
    assert np.array_equal(a[1].probabilities, b[1].probabilities)
    assert not np.array_equal(a[1].probabilities, c[1].probabilities)
    assert not np.array_equal(a[1].probabilities, plain[1].probabilities)
    assert a[0].tta_passes == 4


def test_build_tta_settings():
    assert build_tta(EvaluationSettings()) is None
    shift = build_tta(EvaluationSettings(tta_passes=3, tta_params={"time_shift": 0.25}))
    assert shift.time_shift == 0.25 and shift.specaugment is None
    spec = build_tta(
        EvaluationSettings(
            tta_passes=2, tta_params={"specaugment": {"time_masks": 2, "time_width": 8}}
        )
    )
    assert spec.specaugment.time_width == 8
    with pytest.raises(EvaluationError, match="names no augmentation"):
        build_tta(EvaluationSettings(tta_passes=30))
    with pytest.raises(EvaluationError, match="not understood"):
        build_tta(EvaluationSettings(tta_passes=30, tta_params={"noise": 1}))
    with pytest.raises(EvaluationError, match="not understood with method 'model'"):
        build_tta(
            EvaluationSettings(tta_passes=30, tta_params={"method": "model", "time_shift": 1})
        )
    with pytest.raises(EvaluationError, match="unknown tta method"):
        build_tta(EvaluationSettings(tta_passes=30, tta_params={"method": "magic"}))
    model_tta = build_tta(
        EvaluationSettings(
            tta_passes=30, tta_params={"method": "model", "seed": 3, "description": "SP4ASC"}
        )
    )
    assert isinstance(model_tta, ModelTestTimeAugmentation) and model_tta.seed == 3
    with pytest.raises(EvaluationError, match="recipe has no specaugment"):
        build_tta(EvaluationSettings(tta_passes=3, tta_params={"specaugment": True}))


def test_tta_passes_need_an_augmentation(clips):
    with pytest.raises(EvaluationError, match="no test-time augmentation"):
        evaluate(LogitsInFeatures(), clips, tta_passes=3)


def test_unlabelled_set_returns_predictions_only(clips):
    unlabelled = TensorClips(clips.features, None, clips.devices, clips.filenames)
    result, preds = evaluate(LogitsInFeatures(), unlabelled)
    assert result.accuracy is None and result.log_loss is None and not result.labelled
    assert preds.probabilities.shape == (90, 10) and result.n_clips == 90
    mixed_labels = clips.labels.clone()
    mixed_labels[3] = -1
    mixed = TensorClips(clips.features, mixed_labels, clips.devices, clips.filenames)
    with pytest.raises(EvaluationError, match="1 of 90 clips have no label"):
        evaluate(LogitsInFeatures(), mixed)


def test_wrong_number_of_classes(clips):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 7))
    with pytest.raises(EvaluationError, match="7 classes"):
        evaluate(model, clips)


class SelfAugmenting(LogitsInFeatures):
    """Adds random noise to its logits while its test-time augmentation hook is on."""

    def __init__(self):
        super().__init__()
        self.augmenting = False
        self.calls: list[bool] = []

    def test_time_augmentation(self, enabled: bool) -> None:
        self.calls.append(enabled)
        self.augmenting = enabled

    def forward(self, x):
        out = super().forward(x)
        return out + torch.randn_like(out) if self.augmenting else out


def test_model_tta_uses_the_model_hook_and_a_private_rng(clips):
    model = SelfAugmenting()
    tta = ModelTestTimeAugmentation()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = evaluate(model, clips, tta_passes=5, tta=tta, seed=1)[1].probabilities
    assert torch.equal(torch.get_rng_state(), before)  # the caller's RNG is untouched
    assert model.calls == [True, False] and not model.augmenting
    b = evaluate(model, clips, tta_passes=5, tta=tta, seed=1)[1].probabilities
    c = evaluate(model, clips, tta_passes=5, tta=tta, seed=2)[1].probabilities
    plain = evaluate(model, clips)[1].probabilities
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.allclose(a, plain)
    # the seed carried by the TTA wins over evaluate's
    d = evaluate(model, clips, tta_passes=5, tta=ModelTestTimeAugmentation(seed=2), seed=1)
    assert np.array_equal(d[1].probabilities, c)
    with pytest.raises(EvaluationError, match="test_time_augmentation"):
        evaluate(LogitsInFeatures(), clips, tta_passes=2, tta=tta)


class OneClass(torch.nn.Module):
    """Predicts class ``k`` for every clip (a model that learned nothing)."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def forward(self, x):
        out = torch.zeros(x.shape[0], 10)
        out[:, self.k] = 5.0
        return out


def test_evaluate_summarizes_the_predicted_classes(clips):
    result, preds = evaluate(OneClass(2), clips)
    s = result.predictions
    assert s.clips == 90 and s.correct == 9 and s.tied == 0
    assert s.predicted["metro"] == 90 and sum(s.predicted.values()) == 90
    assert s.binomial_p > 0.4
    assert set(preds.predicted_labels()) == {"metro"}
    learned, _ = evaluate(LogitsInFeatures(), clips)
    assert learned.predictions.correct > 40 and learned.predictions.binomial_p < 1e-6
    assert max(learned.predictions.predicted.values()) < 20
    unlabelled = TensorClips(clips.features, None, clips.devices, clips.filenames)
    assert evaluate(OneClass(2), unlabelled)[0].predictions is None


def test_tied_logits_predict_the_lowest_class_index(clips):
    class Tied(torch.nn.Module):
        def forward(self, x):
            out = torch.zeros(x.shape[0], 10)
            out[:, [4, 6]] = 1.0  # 'park' and 'shopping_mall' tie for every clip
            return out

    result, preds = evaluate(Tied(), clips)
    assert result.predictions.tied == 90
    assert result.predictions.predicted["park"] == 90
    assert set(preds.predicted_labels()) == {"park"}
    assert result.class_wise["park"]["accuracy"] == 100.0
    assert result.class_wise["shopping_mall"]["accuracy"] == 0.0
