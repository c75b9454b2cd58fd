"""Delta (local slope) features along time and their stacking as extra channels.

The delta at frame t is the least-squares slope over ``width`` frames,
``Σ_k k·x[t+k] / Σ_k k²`` for ``k = -width//2 … width//2``; for width 5 that is Hu et al.'s
``(x[t+1] - x[t-1]) / 10 + (x[t+2] - x[t-2]) / 5``. Edge handling (``mode``):

- ``'nearest'``: the input is padded by repeating its first/last frame
  (``librosa.feature.delta(..., mode='nearest')``); output length = input length.
- ``'interp'``: the first/last ``width//2`` outputs repeat the first/last full-window slope,
  which is what ``librosa.feature.delta``'s default ``mode='interp'`` (a straight line fitted
  to the edge window) gives; output length = input length.
- ``'valid'``: no padding; each application drops ``width//2`` frames at both ends. With
  deltas and delta-deltas all channels are cropped to the delta-delta length, e.g.
  ``T - 8`` for width 5 (Hu et al. 2020, Cao et al. 2021, Shao et al. 2022: 431 → 423,
  44 → 36 frames).

Delta-deltas are the delta of the delta (HTK style), not librosa's ``order=2`` quadratic fit.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

DeltaMode = Literal["nearest", "interp", "valid"]
DELTA_MODES: tuple[str, ...] = ("nearest", "interp", "valid")


def delta(x: torch.Tensor, width: int = 9, mode: DeltaMode = "nearest") -> torch.Tensor:
    """Delta of ``x (..., T)`` along the last axis; see the module docstring for ``mode``."""
    if width < 3 or width % 2 == 0:
        raise ValueError(f"delta width must be an odd number >= 3, got {width}")
    if mode not in DELTA_MODES:
        raise ValueError(f"delta mode must be one of {DELTA_MODES}, got {mode!r}")
    half = width // 2
    frames = x.shape[-1]
    if mode != "nearest" and frames < width:
        raise ValueError(f"delta mode {mode!r} needs at least {width} frames, got {frames}")
    if mode == "nearest":
        flat = x.reshape(-1, 1, frames)
        x = F.pad(flat, (half, half), mode="replicate").reshape(*x.shape[:-1], frames + 2 * half)
    length = x.shape[-1] - 2 * half
    denom = 2.0 * sum(k * k for k in range(1, half + 1))
    out = torch.zeros(*x.shape[:-1], length, dtype=x.dtype, device=x.device)
    for k in range(1, half + 1):  # Σ_k k·(x[t+k] - x[t-k]) / (2 Σ_k k²)
        out.add_(x[..., half + k : half + k + length] - x[..., half - k : half - k + length],
                 alpha=k / denom)
    if mode == "interp":
        flat = out.reshape(-1, 1, length)
        out = F.pad(flat, (half, half), mode="replicate").reshape(*out.shape[:-1], frames)
    return out


def stack_deltas(
    x: torch.Tensor, order: int, width: int = 9, mode: DeltaMode = "nearest"
) -> torch.Tensor:
    """``x (B, F, T)`` → ``(B, 1 + order, F, T')``: x, then its delta, then delta-delta (for
    ``order=0`` a view of ``x``).

    ``T' = T`` except for ``mode='valid'``, where ``T' = T - 2·(width//2)·order`` and every
    channel is cropped symmetrically to that length.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"deltas must be 0, 1 or 2, got {order}")
    if order == 0:
        return x.unsqueeze(1)
    feats = [x]
    for _ in range(order):
        feats.append(delta(feats[-1], width, mode))
    if mode == "valid" and order:
        length = feats[-1].shape[-1]
        feats = [f[..., (f.shape[-1] - length) // 2 :][..., :length] for f in feats]
    return torch.stack(feats, dim=1)
