from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ascbench.training.losses import (
    distillation_kl,
    distillation_loss,
    focal_loss,
    one_hot,
    soft_cross_entropy,
)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(16, 10, generator=g)
    labels = torch.randint(0, 10, (16,), generator=g)
    return logits, labels


def test_soft_cross_entropy_with_one_hot_is_torch_cross_entropy(batch):
    logits, labels = batch
    ours = soft_cross_entropy(logits, one_hot(labels, 10))
    assert torch.allclose(ours, F.cross_entropy(logits, labels), atol=1e-6)


def test_label_smoothing_matches_torch(batch):
    logits, labels = batch
    ours = soft_cross_entropy(logits, one_hot(labels, 10, smoothing=0.1))
    ref = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert torch.allclose(one_hot(labels, 10, 0.1).sum(1), torch.ones(16))


def test_focal_loss_reduces_to_cross_entropy_at_gamma_zero(batch):
    logits, labels = batch
    ours = focal_loss(logits, one_hot(labels, 10), gamma=0.0)
    assert torch.allclose(ours, F.cross_entropy(logits, labels), atol=1e-6)


def test_focal_loss_is_sp4asc_form_for_hard_labels(batch):
    logits, labels = batch
    p_t = F.softmax(logits, 1)[torch.arange(16), labels]
    ref = (-(1 - p_t) * torch.log(p_t)).mean()
    assert torch.allclose(focal_loss(logits, one_hot(labels, 10), gamma=1.0), ref, atol=1e-6)
    # focusing: the focal loss is below cross-entropy for every gamma > 0
    assert focal_loss(logits, one_hot(labels, 10), 2.0) < F.cross_entropy(logits, labels)


def test_focal_loss_gradient_finite_for_confident_predictions():
    logits = torch.tensor([[60.0, 0.0, 0.0]], requires_grad=True)
    focal_loss(logits, one_hot(torch.tensor([0]), 3), gamma=0.5).backward()
    assert torch.isfinite(logits.grad).all()


def test_distillation_kl_matches_formula(batch):
    logits, _ = batch
    teacher = torch.randn(16, 10, generator=torch.Generator().manual_seed(5))
    t = 3.0
    pt = F.softmax(teacher / t, 1)
    ps = F.softmax(logits / t, 1)
    ref = (pt * (pt.log() - ps.log())).sum(1).mean() * t * t
    assert torch.allclose(distillation_kl(logits, pt, t), ref, atol=1e-5)
    assert distillation_kl(logits, F.softmax(logits / t, 1), t).abs() < 1e-6


def test_distillation_loss_weights(batch):
    logits, labels = batch
    targets = one_hot(labels, 10)
    teacher = F.softmax(torch.randn(16, 10, generator=torch.Generator().manual_seed(1)) / 2, 1)
    ce = soft_cross_entropy(logits, targets)
    kl = distillation_kl(logits, teacher, 2.0)
    assert torch.allclose(distillation_loss(logits, targets, teacher, 2.0, 0.0), ce)
    assert torch.allclose(distillation_loss(logits, targets, teacher, 2.0, 1.0), kl)
    mixed = distillation_loss(logits, targets, teacher, 2.0, 0.25)
    assert math.isclose(float(mixed), 0.75 * float(ce) + 0.25 * float(kl), rel_tol=1e-6)
