"""Augmentations of clip features ``(B, C, F, T)`` that training and test-time augmentation share.

SpecAugment masking and random time/frequency shifts. Every function draws its randomness from
a :class:`numpy.random.Generator` passed in, so a seeded caller gives the same batches on every
run and on every device (random numbers are drawn on the CPU, then moved to the features'
device). The training-only augmentations (crops, mixup) are in :mod:`ascbench.training.augment`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ascbench.systems import SpecAugment


def as_index(values: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.long, device=device)


def stripe_mask(
    rows: int, length: int, masks: int, max_width: int, rng: np.random.Generator
) -> torch.Tensor:
    """Boolean ``(rows, length)``: ``masks`` stripes per row, widths uniform in ``0..max_width``.

    A stripe of width ``w`` starts uniformly in ``0..length - w`` (both inclusive), as in
    torchlibrosa's ``DropStripes`` except that ``max_width`` itself is a possible width.
    """
    mask = torch.zeros(rows, length, dtype=torch.bool)
    if masks == 0 or max_width == 0 or length == 0:
        return mask
    max_width = min(max_width, length)
    widths = rng.integers(0, max_width, size=(rows, masks), endpoint=True)
    starts = np.floor(rng.random((rows, masks)) * (length - widths + 1)).astype(np.int64)
    pos = torch.arange(length).view(1, 1, length)
    w = torch.as_tensor(widths).unsqueeze(-1)
    s = torch.as_tensor(starts).unsqueeze(-1)
    return ((pos >= s) & (pos < s + w)).any(dim=1)


def spec_augment(
    x: torch.Tensor, settings: SpecAugment, rng: np.random.Generator, fill: float = 0.0
) -> torch.Tensor:
    """SpecAugment time and frequency masking (Park et al., 2019) on ``(B, C, F, T)``.

    ``settings.time_masks`` stripes of up to ``time_width`` frames and ``freq_masks`` stripes
    of up to ``freq_width`` bins are set to ``fill`` (0, as torchlibrosa's
    ``SpecAugmentation``). Masks are drawn per example when ``per_sample`` is true, else once
    for the whole batch; all channels of an example share its masks. With
    ``reference_frames``, the time width scales to clips of another length
    (:meth:`~ascbench.systems.SpecAugment.time_width_for`).
    """
    b, _, f, t = x.shape
    rows = b if settings.per_sample else 1
    time = stripe_mask(rows, t, settings.time_masks, settings.time_width_for(t), rng)
    freq = stripe_mask(rows, f, settings.freq_masks, settings.freq_width, rng)
    mask = time.view(rows, 1, 1, t) | freq.view(rows, 1, f, 1)
    return x.masked_fill(mask.to(x.device), fill)


def random_shift(
    x: torch.Tensor,
    max_shift: int,
    dim: int,
    mode: Literal["roll", "nearest"],
    rng: np.random.Generator,
) -> torch.Tensor:
    """Shift each example along ``dim`` by a whole number uniform in ``-max_shift..max_shift``.

    ``mode='roll'`` wraps around (equivalent to tiling the clip and cropping it back, as in the
    Tsinghua recipe); ``'nearest'`` repeats the edge value, like Keras ``ImageDataGenerator``
    with ``fill_mode='nearest'``.
    """
    dim = dim % x.ndim
    n = x.shape[dim]
    if max_shift <= 0 or n <= 1:
        return x
    shifts = rng.integers(-max_shift, max_shift, size=x.shape[0], endpoint=True)
    idx = torch.arange(n, device=x.device).view(1, n) - as_index(shifts, x.device).view(-1, 1)
    idx = idx.remainder(n) if mode == "roll" else idx.clamp(0, n - 1)
    shape = [x.shape[0]] + [1] * (x.ndim - 1)
    shape[dim] = n
    return x.gather(dim, idx.view(shape).expand_as(x))
