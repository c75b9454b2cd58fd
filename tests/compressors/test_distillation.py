"""Knowledge distillation: teacher outputs keyed by file name, safe storage, the loss."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from ascbench.compressors import (
    DistillationError,
    DistillationSpec,
    TeacherOutputs,
    dataset_fingerprint,
    distillation_loss,
)

NAMES = [f"audio/clip-{i:03d}.wav" for i in range(20)]


def _outputs(fingerprint="fp") -> TeacherOutputs:
    logits = torch.arange(20 * 10, dtype=torch.float32).reshape(20, 10) / 7
    return TeacherOutputs(logits, NAMES, fingerprint=fingerprint, teacher="big")


def test_alignment_follows_names_not_rows():
    store = _outputs()
    shuffled = NAMES[:]
    random.Random(0).shuffle(shuffled)
    aligned = store.align(shuffled)
    for row, name in zip(aligned, shuffled, strict=True):
        assert torch.equal(row, store.logits[NAMES.index(name)])
    subset = shuffled[:5] + shuffled[:2]  # a subset, with repeats
    assert store.align(subset).shape == (7, 10)


def test_missing_files_are_named():
    store = _outputs()
    with pytest.raises(DistillationError, match=r"2 of 3 files .*new-1\.wav, new-2\.wav"):
        store.align([NAMES[0], "new-1.wav", "new-2.wav"])


def test_duplicate_or_mismatched_rows_are_refused():
    with pytest.raises(DistillationError, match="more than once"):
        TeacherOutputs(torch.zeros(2, 3), ["a.wav", "a.wav"], fingerprint="x")
    with pytest.raises(DistillationError, match="2 file names for 3 rows"):
        TeacherOutputs(torch.zeros(3, 3), ["a.wav", "b.wav"], fingerprint="x")


def test_save_load_round_trip_with_weights_only(tmp_path):
    store = _outputs("abc")
    store.meta["epochs"] = 3
    path = store.save(tmp_path / "teacher.pt")
    raw = torch.load(path, weights_only=True)  # plain data only
    assert raw["filenames"] == NAMES
    again = TeacherOutputs.load(path, fingerprint="abc")
    assert torch.equal(again.logits, store.logits) and again.filenames == NAMES
    assert again.teacher == "big" and again.meta == {"epochs": 3}
    with pytest.raises(DistillationError, match="other data or another frontend"):
        TeacherOutputs.load(path, fingerprint="abd")
    with pytest.raises(DistillationError, match="no such"):
        TeacherOutputs.load(tmp_path / "none.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(DistillationError, match="not an ascbench teacher-outputs"):
        TeacherOutputs.load(tmp_path / "other.pt")


def test_fingerprint_depends_on_files_and_frontend_not_order():
    frontend = {"name": "logmel", "params": {"n_mels": 256}}
    a = dataset_fingerprint(NAMES, frontend)
    assert a == dataset_fingerprint(list(reversed(NAMES)), frontend)
    assert a != dataset_fingerprint(NAMES[:-1], frontend)
    assert a != dataset_fingerprint(NAMES, {"name": "logmel", "params": {"n_mels": 128}})
    sizes = dict.fromkeys(NAMES, 100)
    assert dataset_fingerprint(sizes) != dataset_fingerprint({**sizes, NAMES[0]: 101})


def test_from_model_and_trainer_targets():
    model = torch.nn.Linear(4, 10)
    x = torch.randn(6, 4)
    batches = [(x[:4], NAMES[:4]), (x[4:], NAMES[4:6])]
    store = TeacherOutputs.from_model(model, batches, fingerprint="f", teacher="lin")
    with torch.no_grad():
        expected = model(x)
    assert torch.allclose(store.align(NAMES[:6]), expected)
    spec = DistillationSpec(teacher="lin", temperature=3.0, weight=0.7)
    targets = store.targets(spec, [NAMES[5], NAMES[0]])
    assert targets.temperature == 3.0 and targets.weight == 0.7
    assert torch.allclose(targets.probabilities(), F.softmax(expected[[5, 0]] / 3.0, dim=1))


def test_loss_is_hinton_formula():
    torch.manual_seed(0)
    student = torch.randn(5, 10, requires_grad=True)
    teacher = torch.randn(5, 10, requires_grad=True)
    labels = torch.randint(0, 10, (5,))
    t, w = 4.0, 0.3
    loss = distillation_loss(student, teacher, labels, t, w)
    p_t = F.softmax(teacher / t, dim=1)
    kl = (p_t * (p_t.log() - F.log_softmax(student / t, dim=1))).sum(1).mean()
    manual = (1 - w) * F.cross_entropy(student, labels) + w * t * t * kl
    assert torch.allclose(loss, manual, atol=1e-6)
    loss.backward()
    assert teacher.grad is None and student.grad is not None  # no gradient to the teacher
    # weight 0 is plain cross-entropy; soft (mixup) targets are accepted
    assert torch.allclose(distillation_loss(student, teacher, labels, t, 0.0),
                          F.cross_entropy(student, labels))
    soft = F.one_hot(labels, 10).float()
    assert torch.allclose(distillation_loss(student, teacher, soft, t, w), loss)
    with pytest.raises(DistillationError, match="do not match"):
        distillation_loss(student, teacher[:, :5], labels, t, w)


def test_spec_validates():
    assert DistillationSpec(teacher="sp4asc-ce").temperature == 2.0
    with pytest.raises(ValueError):
        DistillationSpec(teacher="x", weight=1.5)
    with pytest.raises(ValueError):
        DistillationSpec(teacher="x", temprature=2)


def test_same_value_as_the_trainers_loss():
    losses = pytest.importorskip("ascbench.training.losses")
    torch.manual_seed(1)
    student, teacher = torch.randn(6, 10), torch.randn(6, 10)
    labels = torch.randint(0, 10, (6,))
    t, w = 2.0, 0.5
    theirs = losses.distillation_loss(
        student, F.one_hot(labels, 10).float(), F.softmax(teacher / t, dim=1), t, w
    )
    assert torch.allclose(distillation_loss(student, teacher, labels, t, w), theirs, atol=1e-6)
