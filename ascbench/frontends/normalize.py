"""Per-frequency standardisation with statistics fitted on training features.

CP-JKU's ``processor_d18`` pipeline (Kim et al. 2021) and many DCASE systems subtract a
per-frequency mean and divide by a per-frequency standard deviation computed over all frames
of all training clips. :func:`fit_standardizer` streams over a (possibly memory-mapped)
``(N, C, F, T)`` feature array in chunks, accumulating in float64 with Chan's parallel
update, and returns a :class:`Standardize` module holding ``mean`` and ``std`` buffers.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from ascbench.frontends.base import FeatureExtractor


class Standardize(torch.nn.Module):
    """``(x - mean) / std`` per (channel, frequency) for ``(B, C, F, T)`` features.

    ``mean`` and ``std`` are ``(C, F, 1)`` float32 buffers (saved in the state dict).
    """

    def __init__(self, mean: Any, std: Any) -> None:
        super().__init__()
        mean_t = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        std_t = torch.as_tensor(np.asarray(std), dtype=torch.float32)
        if mean_t.dim() != 2 or mean_t.shape != std_t.shape:
            raise ValueError(
                f"mean and std must both be (channels, freq), got {tuple(mean_t.shape)} and "
                f"{tuple(std_t.shape)}"
            )
        if not bool((std_t > 0).all()):
            raise ValueError("std must be positive everywhere")
        self.register_buffer("mean", mean_t.unsqueeze(-1).clone())
        self.register_buffer("std", std_t.unsqueeze(-1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def fingerprint(self) -> str:
        """A hash of the statistics (to key anything computed from standardised features)."""
        h = hashlib.sha256()
        h.update(self.mean.detach().cpu().numpy().tobytes())
        h.update(self.std.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]


def fit_standardizer(features: Any, *, chunk: int = 256, eps: float = 1e-5) -> Standardize:
    """Per-(channel, frequency) mean and population std over all clips and frames.

    ``features`` is an ``(N, C, F, T)`` array (numpy, memmap or torch) or anything with such
    an array in ``.features`` (e.g. a :class:`ascbench.features.FeatureSet`). It is read
    ``chunk`` clips at a time, so a memory-mapped array never has to fit in RAM. Standard
    deviations below ``eps`` (constant bins) are raised to ``eps``.
    """
    array = getattr(features, "features", features)
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    if getattr(array, "ndim", None) != 4:
        raise ValueError(f"expected (clips, channels, freq, time) features, got {array!r:.80}")
    n_clips = array.shape[0]
    if n_clips == 0:
        raise ValueError("cannot fit standardisation statistics on zero clips")
    count = 0
    mean = np.zeros(array.shape[1:3], dtype=np.float64)
    m2 = np.zeros_like(mean)
    for start in range(0, n_clips, chunk):
        x = np.asarray(array[start : start + chunk], dtype=np.float64)
        n = x.shape[0] * x.shape[3]
        c_mean = x.mean(axis=(0, 3))
        c_m2 = ((x - c_mean[None, :, :, None]) ** 2).sum(axis=(0, 3))
        delta = c_mean - mean
        total = count + n
        mean = mean + delta * (n / total)
        m2 = m2 + c_m2 + delta**2 * (count * n / total)
        count = total
    std = np.maximum(np.sqrt(m2 / count), eps)
    return Standardize(mean, std)


class StandardizedFrontend(FeatureExtractor):
    """A frontend followed by a fitted :class:`Standardize` (for raw audio at test time)."""

    def __init__(self, frontend: FeatureExtractor, standardize: Standardize) -> None:
        super().__init__()
        self.frontend = frontend
        self.standardize = standardize
        self.sample_rate = frontend.sample_rate

    def config(self) -> dict[str, Any]:
        return {
            "frontend": type(self.frontend).__name__,
            "frontend_config": self.frontend.config(),
            "standardize": self.standardize.fingerprint(),
        }

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.standardize(self.frontend(waveform))
