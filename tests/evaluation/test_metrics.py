from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score
from sklearn.metrics import log_loss as sk_log_loss

from ascbench.components import Evaluator
from ascbench.evaluation import (
    ClassWise,
    DeviceGroups,
    DeviceWise,
    EvaluationError,
    ExpectedCalibrationError,
    MacroAccuracy,
    MacroLogLoss,
    builtin_evaluators,
)
from ascbench.evaluation.metrics import LOG_LOSS_EPS, log_loss
from ascbench.scenes import DEVICE_GROUPS, DEVICES, SCENES

LABELS = list(range(10))


@pytest.fixture(scope="module")
def predictions():
    """Unbalanced labels (so macro and micro averages differ) with informative predictions."""
    rng = np.random.default_rng(0)
    n = 700
    labels = rng.choice(10, size=n, p=np.linspace(0.02, 0.18, 10))
    logits = rng.normal(size=(n, 10)) * 1.5
    logits[np.arange(n), labels] += rng.uniform(0, 3, size=n)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    devices = list(rng.choice(DEVICES, size=n))
    return probs, labels, devices


def sk_macro_accuracy(p, y):
    pred = p.argmax(1)
    return 100 * np.mean([accuracy_score(y[y == k], pred[y == k]) for k in np.unique(y)])


def test_class_wise_matches_sklearn(predictions):
    p, y, d = predictions
    metric = ClassWise()
    metric.update(p, y, d)
    out = metric.compute()
    pred = p.argmax(1)
    for k, name in enumerate(SCENES):
        sel = y == k
        assert math.isclose(out[f"accuracy.{name}"], 100 * accuracy_score(y[sel], pred[sel]))
        ref = sk_log_loss(y[sel], p[sel], labels=LABELS)
        assert math.isclose(out[f"log_loss.{name}"], ref, rel_tol=1e-12)


def test_macro_averages_match_sklearn_per_class_subsets(predictions):
    p, y, d = predictions
    acc, ll = MacroAccuracy(), MacroLogLoss()
    for m in (acc, ll):
        m.update(torch.from_numpy(p), torch.from_numpy(y), d)
    accuracy = acc.compute()["accuracy"]
    assert math.isclose(accuracy, sk_macro_accuracy(p, y), rel_tol=1e-12)
    ref = np.mean([sk_log_loss(y[y == k], p[y == k], labels=LABELS) for k in range(10)])
    assert math.isclose(ll.compute()["log_loss"], ref, rel_tol=1e-12)
    # on unbalanced data the macro averages are not the micro ones
    assert not math.isclose(accuracy, 100 * accuracy_score(y, p.argmax(1)), rel_tol=1e-3)
    assert not math.isclose(ll.compute()["log_loss"], sk_log_loss(y, p), rel_tol=1e-3)


def test_device_wise_and_groups_as_dcase(predictions):
    p, y, d = predictions
    dev, groups = DeviceWise(), DeviceGroups()
    dev.update(p, y, d)
    groups.update(p, y, d)
    out = dev.compute()
    darr = np.array(d)
    assert [k.split(".")[1] for k in out if k.startswith("accuracy.")] == list(DEVICES)
    for device in DEVICES:
        sel = darr == device
        assert math.isclose(out[f"accuracy.{device}"], sk_macro_accuracy(p[sel], y[sel]))
        ref = sk_log_loss(y[sel], p[sel], labels=LABELS)
        assert math.isclose(out[f"log_loss.{device}"], ref, rel_tol=1e-12)
    gout = groups.compute()
    for group, members in DEVICE_GROUPS.items():
        sel = np.isin(darr, members)
        assert math.isclose(gout[f"accuracy.{group}"], sk_macro_accuracy(p[sel], y[sel]))
        ref = sk_log_loss(y[sel], p[sel], labels=LABELS)
        assert math.isclose(gout[f"log_loss.{group}"], ref, rel_tol=1e-12)
    assert groups.per_group()["real"]["n"] == np.isin(darr, ["a", "b", "c"]).sum()


def test_devices_missing_or_unknown():
    p = np.full((4, 10), 0.1)
    metric = DeviceWise()
    metric.update(p, [0, 1, 2, 3], ["a", None, "", "x9"])
    assert set(metric.per_device()) == {"a", "x9"}
    groups = DeviceGroups()
    groups.update(p, [0, 1, 2, 3], None)
    assert groups.compute() == {}


def test_log_loss_clipping_is_explicit():
    # a zero probability on the true class: clipped to 1e-15, then the row is renormalised
    p = np.zeros((1, 10))
    p[0, 1] = 1.0
    clipped = np.full(10, LOG_LOSS_EPS)
    clipped[1] = 1 - LOG_LOSS_EPS
    expected = -math.log(LOG_LOSS_EPS / clipped.sum())
    assert math.isclose(log_loss(p, np.array([0])), expected, rel_tol=1e-12)
    assert math.isclose(expected, 34.538776, rel_tol=1e-6)
    # a certain correct prediction costs (almost) nothing
    assert log_loss(p, np.array([1])) < 1e-13


def test_update_accumulates_and_reset_clears(predictions):
    p, y, d = predictions
    whole, parts = MacroLogLoss(), MacroLogLoss()
    whole.update(p, y, d)
    for i in range(0, len(y), 64):
        parts.update(p[i : i + 64], y[i : i + 64], d[i : i + 64])
    assert whole.compute() == parts.compute()
    parts.reset()
    with pytest.raises(EvaluationError, match="no clips"):
        parts.compute()


@pytest.mark.parametrize(
    "probs, labels, devices, match",
    [
        (np.full((3, 9), 1 / 9), [0, 1, 2], None, r"\(N, 10\)"),
        (np.full((3, 10), 0.1), [0, 1], None, "3 probability rows but 2 labels"),
        (np.full((3, 10), 0.1), [0, 1, 2], ["a"], "devices"),
        (np.full((3, 10), 2.0), [0, 1, 2], None, "not logits"),
        (np.full((3, 10), 0.1), [0, 1, 12], None, "class indices"),
        (np.full((3, 10), 0.1), [0, -1, 2], None, "class indices"),
    ],
)
def test_bad_updates(probs, labels, devices, match):
    with pytest.raises(EvaluationError, match=match) as info:
        MacroAccuracy().update(probs, labels, devices)
    assert "\n" not in str(info.value)


def reference_ece(p, y, bins=15):
    conf, correct = p.max(1), p.argmax(1) == y
    total = 0.0
    for lo, hi in zip(
        np.linspace(0, 1, bins + 1)[:-1], np.linspace(0, 1, bins + 1)[1:], strict=True
    ):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return total


def test_ece_hand_example():
    # two clips at confidence 0.95 (one right, one wrong): |0.5 - 0.95| weighted 2/4;
    # two at 0.6 (both right): |1 - 0.6| weighted 2/4
    p = np.array(
        [
            [0.95, 0.05] + [0.0] * 8,
            [0.95, 0.05] + [0.0] * 8,
            [0.4, 0.6] + [0.0] * 8,
            [0.4, 0.6] + [0.0] * 8,
        ]
    )
    metric = ExpectedCalibrationError()
    metric.update(p, [0, 1, 1, 1])
    assert math.isclose(metric.compute()["ece"], 0.5 * 0.45 + 0.5 * 0.4)


def test_ece_matches_reference_binning(predictions):
    p, y, _ = predictions
    metric = ExpectedCalibrationError()
    metric.update(p, y)
    assert math.isclose(metric.compute()["ece"], reference_ece(p, y), rel_tol=1e-12)
    coarse = ExpectedCalibrationError(bins=5)
    coarse.update(p, y)
    assert math.isclose(coarse.compute()["ece"], reference_ece(p, y, 5), rel_tol=1e-12)


def test_builtin_evaluators_build_working_metrics(predictions):
    p, y, d = predictions
    entries = builtin_evaluators()
    assert all(isinstance(e, Evaluator) for e in entries)
    names = [e.name for e in entries]
    assert names == ["accuracy", "log_loss", "class_wise", "device_wise", "device_groups", "ece"]
    for entry in entries:
        metric = entry.build()
        metric.update(p, y, d)
        out = metric.compute()
        assert out and all(isinstance(v, float) for v in out.values())
        metric.reset()


# -- predicted classes, ties and the prediction summary ---------------------------------------


def test_ties_go_to_the_lowest_class_index():
    from ascbench.evaluation import predicted_classes, tied_clips
    from ascbench.evaluation.evaluate import Predictions

    p = np.full((4, 10), 0.05)
    p[0, [3, 7]] = 0.3  # tie between 3 and 7 -> 3
    p[1, [9, 2, 5]] = 0.65 / 3  # three-way tie -> 2
    p[2, 8] = 0.55  # no tie
    p[3, :] = 0.1  # all ten tie -> 0
    assert predicted_classes(p).tolist() == [3, 2, 8, 0]
    assert tied_clips(p) == 3
    assert tied_clips(np.eye(10)) == 0
    preds = Predictions([f"{i}.wav" for i in range(4)], p, np.zeros(4, int), ["a"] * 4)
    assert preds.predicted_labels() == [SCENES[3], SCENES[2], SCENES[8], SCENES[0]]
    # the metrics use the same rule: the clip labelled 7 is predicted 3, so it is wrong
    acc = MacroAccuracy()
    acc.update(p[:1], [7])
    assert acc.compute()["accuracy"] == 0.0
    acc.reset()
    acc.update(p[:1], [3])
    assert acc.compute()["accuracy"] == 100.0


def test_int8_logits_tie_exactly_after_float64_softmax():
    """Dequantized int8 logits take few distinct values, so clips tie at the top exactly."""
    from ascbench.evaluation import tied_clips

    rng = np.random.default_rng(1)
    scale = 0.25
    logits = torch.from_numpy(rng.integers(-3, 4, size=(360, 10)) * scale)
    p = torch.softmax(logits.double(), dim=1).numpy()
    top = logits.numpy().max(axis=1, keepdims=True)
    expected = int(((logits.numpy() == top).sum(axis=1) > 1).sum())
    assert expected > 100  # the draw gives many ties, as int8 models do
    assert tied_clips(p) == expected


def _binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly (the reference for scipy)."""
    from fractions import Fraction

    q = Fraction(p).limit_denominator(1000)
    return float(sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1)))


def test_prediction_summary_counts_and_binomial_test():
    from ascbench.evaluation import summarize_predictions
    from ascbench.evaluation.metrics import binomial_p_value

    labels = np.repeat(np.arange(10), 36)  # 360 clips, balanced
    collapsed = np.full((360, 10), 0.05)
    collapsed[:, 2] = 0.55  # 'metro' for every clip
    s = summarize_predictions(collapsed, labels)
    assert s.clips == 360 and s.correct == 36 and s.tied == 0
    assert s.predicted == {name: (360 if name == "metro" else 0) for name in SCENES}
    assert list(s.predicted) == list(SCENES)
    assert math.isclose(s.binomial_p, _binomial_tail(36, 360, 0.1), rel_tol=1e-9)
    assert 0.4 < s.binomial_p < 0.6  # chance accuracy is not significant

    rng = np.random.default_rng(0)
    learned = rng.uniform(0, 1, size=(360, 10))
    right = rng.permutation(360)[:144]  # 40 % correct, the rest spread over all classes
    learned[right, labels[right]] = 2.0
    learned /= learned.sum(axis=1, keepdims=True)
    s = summarize_predictions(learned, labels)
    assert s.correct >= 144 and max(s.predicted.values()) < 60
    assert s.binomial_p < 1e-30
    assert math.isclose(binomial_p_value(50, 360, 10), _binomial_tail(50, 360, 0.1), rel_tol=1e-9)
    with pytest.raises(EvaluationError, match="prediction summary"):
        summarize_predictions(learned[:, :9], labels)
