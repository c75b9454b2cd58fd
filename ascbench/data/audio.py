"""Reading audio files: any sample rate and channel count, checked, as float32 mono.

:func:`load_audio` decodes a file; :func:`audio_info` reads only its header (cheap), which the
dataset loaders use to check clip lengths and sample rates without decoding every file.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ascbench.errors import AudioError


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says: rate, length, channels and sample format."""

    sample_rate: int
    frames: int
    channels: int
    subtype: str  #: libsndfile sample format, e.g. 'PCM_16', 'PCM_24', 'FLOAT'
    format: str  #: container, e.g. 'WAV', 'FLAC'

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: audio file not found; restore it or remove it from the list")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; point to a .wav/.flac file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); re-extract or replace it")


def audio_info(path: str | Path) -> AudioInfo:
    """Read only the header of ``path``.

    Raises :class:`AudioError` naming the file if it is missing, empty or not readable audio.
    """
    path = Path(path)
    _check_path(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / OSError
        raise AudioError(
            f"{path}: cannot read audio header ({_reason(exc)}); "
            "is it a valid WAV/FLAC file? re-extract or replace it"
        ) from exc
    return AudioInfo(
        sample_rate=int(info.samplerate),
        frames=int(info.frames),
        channels=int(info.channels),
        subtype=str(info.subtype),
        format=str(info.format),
    )


def resample(audio: np.ndarray, orig_rate: int, sample_rate: int) -> np.ndarray:
    """Polyphase-resample a 1-D signal from ``orig_rate`` to ``sample_rate`` (float32)."""
    if orig_rate == sample_rate:
        return np.asarray(audio, dtype=np.float32)
    ratio = Fraction(int(sample_rate), int(orig_rate))
    out = resample_poly(np.asarray(audio, dtype=np.float64), ratio.numerator, ratio.denominator)
    return out.astype(np.float32)


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read ``path`` as float32 mono at ``sample_rate`` (polyphase resampling when needed).

    16-bit, 24-bit, 32-bit integer and float files are all read as float32 in [-1, 1] (float
    files keep their values as stored). Multi-channel audio is averaged to mono. Raises
    :class:`AudioError` naming the file for missing, empty, unreadable, zero-length, NaN or
    infinite audio.
    """
    if int(sample_rate) <= 0:
        raise AudioError(f"{path}: requested sample rate {sample_rate} Hz must be positive")
    path = Path(path)
    _check_path(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / OSError
        raise AudioError(
            f"{path}: cannot read audio ({_reason(exc)}); "
            "is it a valid WAV/FLAC file? re-extract or replace it"
        ) from exc
    if data.size == 0:
        raise AudioError(f"{path}: the file holds no audio samples; replace or remove it")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: the audio holds NaN or infinite samples; replace or remove it")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    mono = resample(mono, int(rate), int(sample_rate))
    return np.ascontiguousarray(mono, dtype=np.float32)
