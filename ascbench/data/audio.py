"""Reading audio files: any sample rate and channel count, checked, as float32 mono."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ascbench.errors import AudioError


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read ``path`` as float32 mono at ``sample_rate`` (polyphase resampling when needed).

    Stereo is averaged to mono; 16-bit, 24-bit and float files are read as float32.
    Raises :class:`AudioError` naming the file for unreadable, empty, NaN or infinite audio.
    """
    path = Path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / OSError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(f"{path}: cannot read audio ({reason}); is it a valid WAV/FLAC file?") from exc
    if data.size == 0:
        raise AudioError(f"{path}: the file holds no audio samples; replace or remove it")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: the audio holds NaN or infinite samples; replace or remove it")
    mono = data.mean(axis=1, dtype=np.float32)
    if rate != sample_rate:
        ratio = Fraction(int(sample_rate), int(rate))
        mono = resample_poly(mono, ratio.numerator, ratio.denominator).astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)
