"""The frontend contract every registered frontend factory returns."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import torch

from ascbench.errors import AscbenchError


class FeatureExtractor(torch.nn.Module):
    """Maps waveforms ``(batch, samples)`` at :attr:`sample_rate` to ``(batch, C, F, T)``.

    Subclasses implement :meth:`forward` and :meth:`config`. Feature extraction is never
    counted in a model's complexity, and features are cached keyed by :meth:`fingerprint`.
    """

    sample_rate: int

    def config(self) -> dict[str, Any]:
        """All settings that change the output, JSON-serialisable (used for cache keys)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        payload = json.dumps({"class": type(self).__name__, **self.config()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    @torch.no_grad()
    def output_shape(self, clip_seconds: float) -> tuple[int, int, int]:
        """``(channels, freq, time)`` of the features of one clip of ``clip_seconds``."""
        samples = int(round(clip_seconds * self.sample_rate))
        was_training = self.training
        self.eval()
        try:
            out = self(torch.zeros(1, max(samples, 1)))
        finally:
            self.train(was_training)
        return tuple(int(s) for s in out.shape[1:])  # type: ignore[return-value]

    @staticmethod
    def frames(samples: int, hop: int, n_fft: int, center: bool) -> int:
        if center:
            return 1 + samples // hop
        return 1 + max(0, math.floor((samples - n_fft) / hop))


class FrontendError(AscbenchError, ValueError):
    """A frontend's parameters are invalid (also a ValueError, for callers that expect one)."""
