"""Batch augmentations on features ``(B, C, F, T)``: crops, shifts, mixup and SpecAugment.

The shifts and SpecAugment live in :mod:`ascbench.feature_augment` (test-time augmentation
uses them too) and are re-exported here.

Every function draws its randomness from a :class:`numpy.random.Generator` passed in, so a
seeded trainer gives the same batches on every run and on every device (random numbers are
drawn on the CPU, then moved to the features' device).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from ascbench.feature_augment import as_index, random_shift, spec_augment, stripe_mask
from ascbench.training.errors import RecipeError

__all__ = [
    "MIXUP_MODES",
    "MixupMode",
    "between_class_mix",
    "level_db",
    "mixup",
    "random_shift",
    "random_time_crop",
    "spec_augment",
    "stripe_mask",
]

MixupMode = Literal["batch", "sample", "two_batches", "between_class"]

#: Mixup modes (``TrainingRecipe.mixup_mode``) and what they do.
MIXUP_MODES: dict[str, str] = {
    "batch": "one λ ~ Beta(α, α) per batch, partner = random permutation of the batch "
    "(Zhang et al. 2018; SP4ASC, Kim)",
    "sample": "one λ ~ Beta(α, α) per example, partner = random permutation of the batch",
    "two_batches": "each step reads 2·batch_size clips and mixes the first half with the second "
    "with one λ per example, so an epoch has half the steps (Hu et al. 2020 generator; "
    "Cao, Shao)",
    "between_class": "between-class learning (Tokozume et al. 2018; Deepsound's 'modified "
    "mixup') on dB features: ratio r ~ Beta(α, α) per example, gain-weighted power mix of the "
    "two clips normalised by p² + (1 - p)², label r·y1 + (1 - r)·y2",
}


def random_time_crop(x: torch.Tensor, frames: int, rng: np.random.Generator) -> torch.Tensor:
    """A random window of ``frames`` frames per example (Deepsound's random 8-s crops)."""
    t = x.shape[-1]
    if frames > t:
        raise RecipeError(f"time_crop of {frames} frames is longer than the {t}-frame features")
    if frames == t:
        return x
    starts = rng.integers(0, t - frames, size=x.shape[0], endpoint=True)
    idx = as_index(starts, x.device).view(-1, 1) + torch.arange(frames, device=x.device)
    idx = idx.view(x.shape[0], 1, 1, frames).expand(-1, x.shape[1], x.shape[2], -1)
    return x.gather(-1, idx)


def level_db(x: torch.Tensor) -> torch.Tensor:
    """Per-example level in dB of dB features ``(B, C, F, T)``: max over frames of the mean power.

    Between-class learning weights the two clips by their gains; Tokozume et al. use the peak
    A-weighted frame level of the waveform. On dB (10·log10 power) features the closest
    quantity is the peak over frames of the mean power over bins (unweighted).
    """
    ln10 = math.log(10.0)
    per_frame = torch.logsumexp(x.flatten(1, 2) * (ln10 / 10.0), dim=1) - math.log(
        x.shape[1] * x.shape[2]
    )
    return per_frame.amax(dim=-1) * (10.0 / ln10)


def between_class_mix(x1: torch.Tensor, x2: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Mix dB features as between-class learning mixes waveforms, in the power domain.

    With gains ``G1, G2`` (:func:`level_db`) and ratio ``r``:
    ``p = 1 / (1 + 10^((G1 - G2)/20) · (1 - r)/r)``; waveforms would mix as
    ``(p·s1 + (1 - p)·s2) / sqrt(p² + (1 - p)²)``; for uncorrelated signals the expected power is
    ``(p²·P1 + (1 - p)²·P2) / (p² + (1 - p)²)``, returned in dB. ``ratio`` has shape ``(B,)``.
    """
    g1, g2 = level_db(x1), level_db(x2)
    r = ratio.to(x1.dtype).clamp(1e-6, 1 - 1e-6)
    p = 1.0 / (1.0 + torch.pow(10.0, (g1 - g2) / 20.0) * (1.0 - r) / r)
    k = math.log(10.0) / 10.0
    view = (-1,) + (1,) * (x1.ndim - 1)
    log_a = (2.0 * torch.log(p)).view(view) + x1 * k
    log_b = (2.0 * torch.log1p(-p)).view(view) + x2 * k
    norm = torch.log(p * p + (1.0 - p) * (1.0 - p)).view(view)
    return (torch.logaddexp(log_a, log_b) - norm) / k


def mixup(
    x: torch.Tensor,
    targets: list[torch.Tensor],
    alpha: float,
    mode: str,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Mix examples and, with the same weights, every ``(B, K)`` tensor in ``targets``.

    ``targets`` holds the soft labels and, for distillation, the teacher's probabilities.
    See :data:`MIXUP_MODES`. ``two_batches`` returns ``B // 2`` examples; the other modes ``B``.
    """
    if mode not in MIXUP_MODES:
        raise RecipeError(f"unknown mixup_mode {mode!r}; choose one of {', '.join(MIXUP_MODES)}")
    b = x.shape[0]
    dev = x.device
    if mode == "two_batches":
        k = b // 2
        if k == 0:
            return x, targets
        first, second = torch.arange(k, device=dev), torch.arange(k, 2 * k, device=dev)
        lam = torch.as_tensor(rng.beta(alpha, alpha, size=k), dtype=x.dtype, device=dev)
    else:
        first = torch.arange(b, device=dev)
        second = as_index(rng.permutation(b), dev)
        size = 1 if mode == "batch" else b
        lam = torch.as_tensor(rng.beta(alpha, alpha, size=size), dtype=x.dtype, device=dev)
        lam = lam.expand(b)
    x1 = x if mode != "two_batches" else x[first]
    x2 = x[second]
    if mode == "between_class":
        mixed = between_class_mix(x1, x2, lam)
    else:
        # λ·x1 + (1 - λ)·x2 in one pass
        mixed = torch.lerp(x2, x1, lam.view((-1,) + (1,) * (x.ndim - 1)))
    lt = lam.view(-1, 1)
    mixed_targets = [lt * t[first] + (1.0 - lt) * t[second] for t in targets]
    return mixed, mixed_targets
