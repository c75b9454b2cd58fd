"""LogMel against librosa (a test-only dependency) on the settings of the DCASE systems."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from ascbench.frontends import LogMel, a_weighting, mel_filterbank, preset

librosa = pytest.importorskip("librosa")

TOL_DB = 1e-3


def _signal(sr: int, seconds: float, seed: int, *, kind: str = "hard") -> np.ndarray:
    """Test audio. 'hard': tones + noise + a steeply low-passed part (bands ~100 dB below
    the rest, where a float32 FFT is not exact) + a quiet stretch; 'mild': tones + noise."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * np.sin(2 * np.pi * 3150.0 * t)
    x += 0.02 * rng.standard_normal(n)
    if kind == "hard":
        sos = scipy.signal.butter(12, 0.15, output="sos")
        x[: n // 2] = 0.5 * scipy.signal.sosfilt(sos, rng.standard_normal(n // 2))
        x[n // 2 : n // 2 + sr // 10] *= 1e-3  # quiet stretch
    return x.astype(np.float32)


def _librosa_mel(y: np.ndarray, cfg: dict) -> np.ndarray:
    """librosa.feature.melspectrogram with the LogMel parameters in ``cfg`` (float64 audio is
    not needed: librosa windows float32 audio with a float64 window)."""
    return librosa.feature.melspectrogram(
        y=y, sr=cfg["sample_rate"], n_fft=cfg["n_fft"], hop_length=cfg["hop_length"],
        win_length=cfg.get("win_length"), window=cfg.get("window", "hann"),
        center=cfg.get("center", True), pad_mode=cfg.get("pad_mode", "constant"),
        power=cfg.get("power", 2.0), n_mels=cfg["n_mels"], fmin=cfg.get("fmin", 0.0),
        fmax=cfg.get("fmax"), htk=cfg.get("mel_scale", "slaney") == "htk",
        norm=cfg.get("mel_norm", "slaney"),
    )


# (id, LogMel parameters, seconds): power_to_db comparisons
DB_CONFIGS = [
    ("sp4asc-44k-2048-1024-256mel", {
        "sample_rate": 44100, "n_fft": 2048, "hop_length": 1024, "window": "hann",
        "center": True, "pad_mode": "reflect", "n_mels": 256, "log": "db", "amin": 1e-10,
        "ref": 1.0, "top_db": None}, 3.0),
    ("dcase-baseline-hamming-40ms-20ms-40mel", {
        "sample_rate": 44100, "n_fft": 2048, "win_length": 1764, "hop_length": 882,
        "window": "hamming", "center": True, "pad_mode": "reflect", "power": 1.0,
        "n_mels": 40, "log": "db"}, 1.0),
    ("kim-22k-2048-512-256mel-top80", {
        "sample_rate": 22050, "n_fft": 2048, "hop_length": 512, "pad_mode": "reflect",
        "n_mels": 256, "fmax": 11025.0, "log": "db", "top_db": 80.0}, 2.0),
    ("htk-nonorm-128mel", {
        "sample_rate": 44100, "n_fft": 2048, "hop_length": 1024, "n_mels": 128,
        "mel_scale": "htk", "mel_norm": None, "log": "db"}, 2.0),
    ("center-false-constant", {
        "sample_rate": 44100, "n_fft": 2048, "hop_length": 512, "center": False,
        "n_mels": 64, "log": "db"}, 1.0),
    ("top-db-40-ref-max", {
        "sample_rate": 16000, "n_fft": 1024, "hop_length": 256, "n_mels": 96, "log": "db",
        "ref": "max", "top_db": 40.0}, 1.5),
    ("deepsound-4096-2760-690-160mel-10Hz-16kHz", {
        "sample_rate": 44100, "n_fft": 4096, "win_length": 2760, "hop_length": 690,
        "pad_mode": "reflect", "n_mels": 160, "fmin": 10.0, "fmax": 16000.0, "log": "db"}, 1.0),
    ("constant-pad-odd-hop", {
        "sample_rate": 32000, "n_fft": 1000, "hop_length": 321, "n_mels": 80, "fmin": 50.0,
        "fmax": 14000.0, "log": "db"}, 1.0),
]


@pytest.mark.parametrize("name,cfg,seconds", DB_CONFIGS, ids=[c[0] for c in DB_CONFIGS])
def test_logmel_matches_librosa_power_to_db(name: str, cfg: dict, seconds: float) -> None:
    ys = np.stack([_signal(cfg["sample_rate"], seconds, seed) for seed in (0, 1)])
    ours = LogMel(**cfg)(torch.from_numpy(ys))
    for i, y in enumerate(ys):
        ref = librosa.power_to_db(
            _librosa_mel(y, cfg), ref=np.max if cfg.get("ref") == "max" else cfg.get("ref", 1.0),
            amin=cfg.get("amin", 1e-10), top_db=cfg.get("top_db"),
        )
        got = ours[i, 0].numpy()
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() < TOL_DB, name


def test_ln_variant_matches_numpy_log() -> None:
    cfg = {"sample_rate": 44100, "n_fft": 2048, "hop_length": 1024, "n_mels": 128,
           "mel_scale": "htk", "mel_norm": None, "log": "ln", "amin": 1e-8, "pad_mode": "reflect"}
    y = _signal(44100, 2.0, 3)
    ref = np.log(_librosa_mel(y, cfg).astype(np.float64) + 1e-8)
    got = LogMel(**cfg)(torch.from_numpy(y))[0, 0].numpy()
    # 1e-3 dB corresponds to 2.3e-4 in natural-log units
    assert np.abs(got - ref).max() < 2.3e-4


def test_float32_precision_agrees_on_moderate_dynamic_range() -> None:
    cfg = {"sample_rate": 44100, "n_fft": 2048, "hop_length": 1024, "n_mels": 256,
           "log": "db", "precision": "float32"}
    y = _signal(44100, 2.0, 4, kind="mild")
    ref = librosa.power_to_db(_librosa_mel(y, cfg), top_db=None)
    got = LogMel(**cfg)(torch.from_numpy(y))[0, 0].numpy()
    assert np.abs(got - ref).max() < TOL_DB


def test_float64_needed_for_quiet_bands() -> None:
    """The 'hard' signal's low-passed bands lie ~100 dB down: float32 is off there by more
    than the tolerance, float64 is not (why float64 is the default)."""
    cfg = {"sample_rate": 44100, "n_fft": 2048, "hop_length": 1024, "n_mels": 256, "log": "db"}
    y = np.zeros(88200, dtype=np.float32)
    rng = np.random.default_rng(5)
    y[:] = 0.5 * scipy.signal.sosfilt(scipy.signal.butter(16, 0.1, output="sos"),
                                      rng.standard_normal(88200))
    ref = librosa.power_to_db(_librosa_mel(y, cfg), top_db=None)
    err64 = np.abs(LogMel(**cfg)(torch.from_numpy(y))[0, 0].numpy() - ref).max()
    err32 = np.abs(LogMel(**cfg, precision="float32")(torch.from_numpy(y))[0, 0].numpy()
                   - ref).max()
    assert err64 < TOL_DB < err32


def test_processor_d18_a_weighting_matches_librosa() -> None:
    """Kim et al. / CP-JKU processor_d18: A-weighted dB per bin, then the mel filterbank."""
    y = _signal(22050, 2.0, 6)
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=512, window="hann", center=True,
                               pad_mode="reflect"))
    freqs = librosa.fft_frequencies(sr=22050, n_fft=2048)
    with np.errstate(divide="ignore"):
        weighted = librosa.perceptual_weighting(stft**2, freqs, ref=1.0, amin=1e-10, top_db=80.0)
    ref = librosa.feature.melspectrogram(S=weighted, sr=22050, n_mels=256, fmax=None)
    got = preset("kim2021")(torch.from_numpy(y))[0, 0].numpy()
    assert got.shape == ref.shape == (256, 87)
    assert np.abs(got - ref).max() < TOL_DB


def test_a_weighting_curve_matches_librosa() -> None:
    freqs = np.concatenate([[0.0, 10.0], np.fft.rfftfreq(2048, 1 / 44100)[1:]])
    with np.errstate(divide="ignore"):
        ref = librosa.A_weighting(freqs)
    np.testing.assert_allclose(a_weighting(freqs), ref, atol=1e-9)
    assert a_weighting(np.array([0.0]))[0] == -80.0
    assert abs(a_weighting(np.array([1000.0]))[0]) < 0.01  # 0 dB at 1 kHz


@pytest.mark.parametrize("scale,norm", [("slaney", "slaney"), ("htk", None), ("htk", "slaney"),
                                        ("slaney", None)])
@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (44100, 2048, 256, 0.0, None), (22050, 2048, 128, 20.0, 8000.0), (16000, 512, 40, 0.0, 7000.0),
])
def test_filterbank_matches_librosa(scale, norm, sr, n_fft, n_mels, fmin, fmax) -> None:
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax, scale, norm, dtype=np.float64)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax,
                              htk=scale == "htk", norm=norm, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-14)
