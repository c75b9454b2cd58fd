"""Mixup normalisation: instance normalisation whose statistics are mixed across the batch.

Shao et al. (DCASE 2022 report; EURASIP JASMP 2024:1) describe "mixup normalization" as
channel-wise instance normalisation combined with mixup of the statistics; the exact formula
is not given. This module is ascbench's reading of it (notes/systems.md, 004, ambiguity 3):

- evaluation mode: an affine ``InstanceNorm2d`` (per example and channel, over frequency and
  time), 2 parameters per channel, no running statistics;
- training mode, with probability ``p`` per forward pass: each example is normalised with a
  mix of its own statistics and those of a random partner in the batch,
  ``mu = lam * mu_i + (1 - lam) * mu_j`` and ``sigma = lam * sigma_i + (1 - lam) * sigma_j``
  with ``lam ~ Beta(alpha, alpha)`` per example (MixStyle-like), then the affine transform.

Mixing adds no parameters and no inference cost. Randomness comes from torch's global
generator, which the ascbench trainer seeds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MixupNorm(nn.Module):
    """Affine instance norm with training-time mixing of per-instance statistics."""

    def __init__(
        self, channels: int, p: float = 0.5, alpha: float = 0.3, eps: float = 1e-5
    ) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"mixing probability p must be in [0, 1], got {p}")
        if alpha <= 0:
            raise ValueError(f"Beta parameter alpha must be positive, got {alpha}")
        self.channels, self.p, self.alpha, self.eps = int(channels), float(p), float(alpha), eps
        self.weight = nn.Parameter(torch.ones(self.channels))
        self.bias = nn.Parameter(torch.zeros(self.channels))

    def extra_repr(self) -> str:
        return f"{self.channels}, p={self.p}, alpha={self.alpha}, eps={self.eps}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] > 1 and self.p > 0 and torch.rand(()) < self.p:
            return self._mixed(x)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)

    def _mixed(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = (x.var(dim=(2, 3), keepdim=True, unbiased=False) + self.eps).sqrt()
        batch = x.shape[0]
        beta = torch.distributions.Beta(
            torch.tensor(self.alpha, device=x.device), torch.tensor(self.alpha, device=x.device)
        )
        lam = beta.sample((batch, 1, 1, 1)).to(x.dtype)
        perm = torch.randperm(batch, device=x.device)
        mean_mix = lam * mean + (1 - lam) * mean[perm]
        std_mix = lam * std + (1 - lam) * std[perm]
        normed = (x - mean_mix) / std_mix
        return normed * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
