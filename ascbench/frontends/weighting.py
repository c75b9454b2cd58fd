"""Frequency weighting curves (IEC 61672 A-weighting) in dB, for perceptually weighted spectra."""

from __future__ import annotations

import numpy as np

# Pole frequencies of the A-weighting filter (Hz): 12194.217, 20.598997, 107.65265, 737.86223
_A_POLES_SQ = np.array([12194.217, 20.598997, 107.65265, 737.86223]) ** 2


def a_weighting(freqs: np.ndarray, min_db: float | None = -80.0) -> np.ndarray:
    """A-weighting gain in dB at ``freqs`` (Hz), floored at ``min_db`` (DC gets ``min_db``).

    ``A(f) = 2.0 + 20 log10(p1² f⁴ / ((f² + p1²)(f² + p2²) sqrt(f² + p3²) sqrt(f² + p4²)))``,
    the same curve and -80 dB floor as ``librosa.A_weighting``.
    """
    f_sq = np.asanyarray(freqs, dtype=np.float64) ** 2
    with np.errstate(divide="ignore"):
        gain = 2.0 + 20.0 * (
            np.log10(_A_POLES_SQ[0])
            + 2.0 * np.log10(f_sq)
            - np.log10(f_sq + _A_POLES_SQ[0])
            - np.log10(f_sq + _A_POLES_SQ[1])
            - 0.5 * np.log10(f_sq + _A_POLES_SQ[2])
            - 0.5 * np.log10(f_sq + _A_POLES_SQ[3])
        )
    return gain if min_db is None else np.maximum(min_db, gain)
