"""load_audio / audio_info: formats, channels, resampling and the unusable-audio errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ascbench.data.audio import audio_info, load_audio
from ascbench.errors import AudioError


def _sine(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def _peak_freq(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_reads_every_sample_format_as_float32(tmp_path: Path, subtype: str) -> None:
    x = _sine(0.5, 44100)
    sf.write(tmp_path / "x.wav", x, 44100, subtype=subtype)
    y = load_audio(tmp_path / "x.wav", 44100)
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == len(x)
    tol = {"PCM_16": 1e-4}.get(subtype, 1e-6)
    np.testing.assert_allclose(y, x, atol=tol)


def test_24bit_values_are_exact(tmp_path: Path) -> None:
    ints = np.array([0, 1, -1, 2**23 - 1, -(2**23), 12345], dtype=np.int32)
    # soundfile writes int32 into PCM_24 by dropping the low byte
    sf.write(tmp_path / "x.wav", (ints << 8).reshape(-1, 1), 44100, subtype="PCM_24")
    assert audio_info(tmp_path / "x.wav").subtype == "PCM_24"
    y = load_audio(tmp_path / "x.wav", 44100)
    np.testing.assert_array_equal(y, (ints / 2**23).astype(np.float32))


def test_stereo_is_averaged_to_mono(tmp_path: Path) -> None:
    left, right = _sine(0.2, 48000, 440, 0.6), _sine(0.2, 48000, 440, 0.2)
    sf.write(tmp_path / "st.wav", np.stack([left, right], axis=1), 48000, subtype="PCM_24")
    y = load_audio(tmp_path / "st.wav", 48000)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-6)
    assert audio_info(tmp_path / "st.wav").channels == 2


@pytest.mark.parametrize("rate", [16000, 48000, 22050])
def test_other_sample_rates_are_resampled(tmp_path: Path, rate: int) -> None:
    sf.write(tmp_path / "r.wav", _sine(1.0, rate, 1000.0), rate, subtype="PCM_16")
    y = load_audio(tmp_path / "r.wav", 32000)
    assert len(y) == 32000
    assert abs(_peak_freq(y, 32000) - 1000.0) < 2.0
    assert 0.3 < np.abs(y[1000:-1000]).max() < 0.6


def test_flac_and_info(tmp_path: Path) -> None:
    sf.write(tmp_path / "f.flac", _sine(0.25, 44100), 44100, subtype="PCM_24")
    info = audio_info(tmp_path / "f.flac")
    assert (info.sample_rate, info.frames, info.channels, info.format) == (44100, 11025, 1, "FLAC")
    assert info.seconds == pytest.approx(0.25)
    assert len(load_audio(tmp_path / "f.flac", 44100)) == 11025


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_rejected(tmp_path: Path, bad: float) -> None:
    x = _sine(0.1, 8000)
    x[100] = bad
    sf.write(tmp_path / "bad.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"bad\.wav: the audio holds NaN or infinite samples"):
        load_audio(tmp_path / "bad.wav", 8000)


def test_zero_frame_file_is_rejected(tmp_path: Path) -> None:
    sf.write(tmp_path / "empty.wav", np.zeros(0), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"empty\.wav: the file holds no audio samples"):
        load_audio(tmp_path / "empty.wav", 8000)


def test_zero_byte_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "zero.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"zero\.wav: the file is empty \(0 bytes\)"):
        load_audio(tmp_path / "zero.wav", 8000)
    with pytest.raises(AudioError, match="0 bytes"):
        audio_info(tmp_path / "zero.wav")


def test_garbage_file_is_rejected_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x01 this is not a wave file" * 10)
    with pytest.raises(AudioError) as info:
        load_audio(tmp_path / "junk.wav", 8000)
    msg = str(info.value)
    assert "junk.wav: cannot read audio" in msg and "re-extract or replace" in msg
    assert "\n" not in msg
    with pytest.raises(AudioError, match="junk.wav: cannot read audio header"):
        audio_info(tmp_path / "junk.wav")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nope\.wav: audio file not found"):
        load_audio(tmp_path / "nope.wav", 8000)
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path, 8000)


def test_bad_target_rate(tmp_path: Path) -> None:
    sf.write(tmp_path / "x.wav", _sine(0.1, 8000), 8000)
    with pytest.raises(AudioError, match="must be positive"):
        load_audio(tmp_path / "x.wav", 0)
