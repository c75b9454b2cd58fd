"""Training losses on soft targets: cross-entropy, focal loss and knowledge distillation.

Every loss takes logits ``(B, K)`` and *soft* targets ``(B, K)`` (rows summing to 1), so that
label smoothing and mixup need no special cases. With one-hot targets they reduce to the usual
hard-label forms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """Targets ``(B, K)``: one-hot rows, smoothed as ``(1 - s)·onehot + s/K`` when ``s > 0``.

    This is the label smoothing of :class:`torch.nn.CrossEntropyLoss` (Szegedy et al., 2016).
    """
    targets = F.one_hot(labels.long(), num_classes).to(torch.float32)
    if smoothing > 0:
        targets = targets * (1.0 - smoothing) + smoothing / num_classes
    return targets


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-Σ_k y_k · log softmax(z)_k``."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 1.0) -> torch.Tensor:
    """Focal loss (Lin et al., 2017) on soft targets, averaged over the batch.

    ``-Σ_k y_k · (1 - p_k)^γ · log p_k``. For one-hot targets this is SP4ASC's
    ``-(1 - p_t)^γ · log p_t``; for ``γ = 0`` it equals :func:`soft_cross_entropy`.
    """
    log_p = F.log_softmax(logits, dim=1)
    # 1 - p computed as -expm1(log p) (exact near p = 1); the floor keeps the gradient of
    # (1 - p)^γ finite for γ < 1 when p rounds to 1.
    weight = (-torch.expm1(log_p)).clamp_min(1e-12).pow(gamma)
    return -(targets * weight * log_p).sum(dim=1).mean()


def distillation_kl(
    student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T² · KL(p_teacher^T ‖ p_student^T)`` averaged over the batch (Hinton et al., 2015).

    ``teacher_probs`` are the teacher's softmax outputs at temperature ``T`` (possibly mixed
    by mixup); the ``T²`` factor keeps gradient magnitudes independent of ``T``.
    """
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    kl = F.kl_div(log_student, teacher_probs, reduction="batchmean")
    return kl * temperature**2


def distillation_loss(
    student_logits: torch.Tensor,
    targets: torch.Tensor,
    teacher_probs: torch.Tensor,
    temperature: float,
    weight: float,
    hard_loss: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(1 - w)·L_hard + w·T²·KL(p_teacher^T ‖ p_student^T)``.

    ``L_hard`` is ``hard_loss`` when given (e.g. a focal loss), else the soft cross-entropy
    against ``targets``.
    """
    if hard_loss is None:
        hard_loss = soft_cross_entropy(student_logits, targets)
    soft = distillation_kl(student_logits, teacher_probs, temperature)
    return (1.0 - weight) * hard_loss + weight * soft
