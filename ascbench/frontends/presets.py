"""Named ``LogMel`` settings of the DCASE baselines and the five report systems, as data.

Each preset is a dict of :class:`~ascbench.frontends.logmel.LogMel` arguments; settings a
report does not state are marked "assumed" in the comments. ``preset(name, **overrides)``
builds the frontend. Per-frequency standardisation (Kim) is fitted separately on training
features with :func:`ascbench.frontends.normalize.fit_standardizer`.
"""

from __future__ import annotations

from typing import Any

from ascbench.errors import UnknownNameError
from ascbench.frontends.logmel import LogMel

_HANN_2048 = {"n_fft": 2048, "win_length": 2048, "window": "hann", "center": True}

PRESETS: dict[str, dict[str, Any]] = {
    # dcase_util MelExtractor as configured by the DCASE 2022 Task 1 baseline: 40 ms Hamming
    # (periodic) window, 20 ms hop, n_fft 2048, 40 Slaney mels, ln(magnitude mel + eps);
    # librosa < 0.10 padded centred frames by reflection. 1 s -> 40 x 51.
    "dcase2022-baseline": {
        "sample_rate": 44100, "n_fft": 2048, "win_length": 1764, "hop_length": 882,
        "window": "hamming", "center": True, "pad_mode": "reflect", "power": 1.0,
        "n_mels": 40, "fmin": 0.0, "fmax": 22050.0, "mel_scale": "slaney", "mel_norm": "slaney",
        "log": "ln", "amin": 2.220446049250313e-16,
    },
    # DCASE 2021 Task 1A baseline: the same features, 10 s -> 40 x 500.
    "dcase2021-baseline": {
        "sample_rate": 44100, "n_fft": 2048, "win_length": 1764, "hop_length": 882,
        "window": "hamming", "center": True, "pad_mode": "reflect", "power": 1.0,
        "n_mels": 40, "fmin": 0.0, "fmax": 22050.0, "mel_scale": "slaney", "mel_norm": "slaney",
        "log": "ln", "amin": 2.220446049250313e-16, "max_frames": 500,
    },
    # Kim et al. 2021 = CP-JKU processor_d18: 22.05 kHz, hop 512, |STFT|^2 -> A-weighted dB
    # (ref 1, amin 1e-10, top_db 80) per bin -> 256 Slaney mels on the dB values. 10 s -> 431.
    "kim2021": {
        "sample_rate": 22050, **_HANN_2048, "hop_length": 512, "pad_mode": "reflect",
        "power": 2.0, "n_mels": 256, "fmin": 0.0, "fmax": None, "mel_scale": "slaney",
        "mel_norm": "slaney", "log": "db", "amin": 1e-10, "ref": 1.0, "top_db": 80.0,
        "weighting": "A",
    },
    # SP4ASC (Puy et al. 2021), torchlibrosa: hop 1024, 256 Slaney mels, power_to_db with
    # ref 1, amin 1e-10, no top_db. 10 s -> 256 x 431.
    "puy2021": {
        "sample_rate": 44100, **_HANN_2048, "hop_length": 1024, "pad_mode": "reflect",
        "power": 2.0, "n_mels": 256, "fmin": 0.0, "fmax": 22050.0, "mel_scale": "slaney",
        "mel_norm": "slaney", "log": "db", "amin": 1e-10, "ref": 1.0, "top_db": None,
    },
    # Deepsound (Verbitskiy et al. 2021): Hann 2760 / hop 690, 160 mels 10 Hz - 16 kHz.
    # n_fft (4096) and the dB log are assumed. 10 s -> 160 x 640.
    "verbitskiy2021": {
        "sample_rate": 44100, "n_fft": 4096, "win_length": 2760, "hop_length": 690,
        "window": "hann", "center": True, "pad_mode": "reflect", "power": 2.0, "n_mels": 160,
        "fmin": 10.0, "fmax": 16000.0, "mel_scale": "slaney", "mel_norm": "slaney",
        "log": "db", "amin": 1e-10, "max_frames": 640,
    },
    # Cao et al. 2021, Hu-style (assumed where unstated): 128 HTK mels without filter
    # normalisation, ln(x + 1e-8), per-clip min-max, deltas and delta-deltas of width 5 with
    # valid cropping. 10 s -> 3 x 128 x 423.
    "cao2021": {
        "sample_rate": 44100, **_HANN_2048, "hop_length": 1024, "pad_mode": "reflect",
        "power": 2.0, "n_mels": 128, "fmin": 0.0, "fmax": 22050.0, "mel_scale": "htk",
        "mel_norm": None, "log": "ln", "amin": 1e-8, "scaling": "minmax", "deltas": 2,
        "delta_width": 5, "delta_mode": "valid",
    },
    # Shao et al. 2022: 1 s, hop 1024 (44 frames), 256 mels, deltas and delta-deltas cropped
    # to the delta-delta length 36. Mel scale and the dB log are assumed. 1 s -> 3 x 256 x 36.
    "shao2022": {
        "sample_rate": 44100, **_HANN_2048, "hop_length": 1024, "pad_mode": "reflect",
        "power": 2.0, "n_mels": 256, "fmin": 0.0, "fmax": 22050.0, "mel_scale": "slaney",
        "mel_norm": "slaney", "log": "db", "amin": 1e-10, "deltas": 2, "delta_width": 5,
        "delta_mode": "valid",
    },
    # DCASE 2024/2025 Task 1 baseline (CPJKU/dcase2024_task1_baseline): torchaudio's
    # MelSpectrogram at 32 kHz (audio resampled from 44.1 kHz): periodic Hann 3072 / hop 500 /
    # n_fft 4096, centred with reflection, power 2, 256 HTK mels 0-16 kHz without filter
    # normalisation, ln(mel + 1e-5); no pre-emphasis. 1 s -> 256 x 65.
    "dcase2024-baseline": {
        "sample_rate": 32000, "n_fft": 4096, "win_length": 3072, "hop_length": 500,
        "window": "hann", "center": True, "pad_mode": "reflect", "power": 2.0, "n_mels": 256,
        "fmin": 0.0, "fmax": 16000.0, "mel_scale": "htk", "mel_norm": None, "log": "ln",
        "amin": 1e-5,
    },
    # CP-Mobile (Schmid et al. 2023, CP-JKU's AugmentMelSTFT at inference): 32 kHz,
    # pre-emphasis [-0.97, 1] (one sample shorter), symmetric Hann 3072 / hop 500 / n_fft 4096,
    # centred with reflection, power 2, 256 Kaldi mel filters 0-15.5 kHz, ln(mel + 1e-5), then
    # (x + 4.5) / 5. 1 s -> 256 x 64.
    "cpmobile": {
        "sample_rate": 32000, "n_fft": 4096, "win_length": 3072, "hop_length": 500,
        "window": "hann", "periodic": False, "center": True, "pad_mode": "reflect",
        "power": 2.0, "n_mels": 256, "fmin": 0.0, "fmax": 15500.0, "mel_scale": "kaldi",
        "mel_norm": None, "log": "ln", "amin": 1e-5, "preemphasis": 0.97, "mean": -4.5,
        "std": 5.0,
    },
}


def preset(name: str, **overrides: Any) -> LogMel:
    """``LogMel`` with the settings of preset ``name``, updated with ``overrides``."""
    if name not in PRESETS:
        raise UnknownNameError(
            f"unknown logmel preset {name!r}; choose one of {', '.join(sorted(PRESETS))}"
        )
    return LogMel(**{**PRESETS[name], **overrides})
