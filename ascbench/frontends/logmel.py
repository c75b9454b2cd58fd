"""Log-mel spectrogram frontend in PyTorch (STFT, sparse mel projection, dB, deltas)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from ascbench.frontends.base import FeatureExtractor


def hz_to_mel(freq: np.ndarray | float, scale: str = "slaney") -> np.ndarray:
    freq = np.asanyarray(freq, dtype=np.float64)
    if scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    f_sp = 200.0 / 3
    mels = freq / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(
        freq >= min_log_hz,
        min_log_mel + np.log(np.maximum(freq, 1e-10) / min_log_hz) / logstep,
        mels,
    )


def mel_to_hz(mels: np.ndarray, scale: str = "slaney") -> np.ndarray:
    mels = np.asanyarray(mels, dtype=np.float64)
    if scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    fmin: float = 0.0,
    fmax: float | None = None,
    scale: Literal["slaney", "htk"] = "slaney",
    norm: Literal["slaney"] | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``(n_mels, 1 + n_fft // 2)``, as librosa.filters.mel builds them."""
    fmax = sample_rate / 2 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2), scale)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


class LogMel(FeatureExtractor):
    """Log-mel spectrogram with optional delta channels.

    The output is ``(batch, channels, n_mels, frames)``; channels are 1 (log-mel), 2 (+delta)
    or 3 (+delta-delta). ``log='db'`` gives ``10*log10(max(mel, amin)) - 10*log10(ref)``
    clipped to ``top_db`` below the maximum (librosa's power_to_db); ``log='ln'`` gives
    ``ln(mel + amin)``.
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        n_fft: int = 2048,
        win_length: int | None = None,
        hop_length: int = 1024,
        window: Literal["hann", "hamming"] = "hann",
        center: bool = True,
        pad_mode: Literal["reflect", "constant"] = "constant",
        power: float = 2.0,
        n_mels: int = 256,
        fmin: float = 0.0,
        fmax: float | None = None,
        mel_scale: Literal["slaney", "htk"] = "slaney",
        mel_norm: Literal["slaney"] | None = "slaney",
        log: Literal["db", "ln", "none"] = "db",
        amin: float = 1e-10,
        ref: float = 1.0,
        top_db: float | None = None,
        deltas: int = 0,
        delta_width: int = 9,
        max_frames: int | None = None,
    ) -> None:
        super().__init__()
        if deltas not in (0, 1, 2):
            raise ValueError(f"deltas must be 0, 1 or 2, got {deltas}")
        self.sample_rate = int(sample_rate)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length)
        self.win_length = int(win_length or n_fft)
        self.window_name, self.center, self.pad_mode, self.power = window, center, pad_mode, power
        self.n_mels, self.fmin, self.fmax = int(n_mels), float(fmin), fmax
        self.mel_scale, self.mel_norm = mel_scale, mel_norm
        self.log, self.amin, self.ref, self.top_db = log, amin, ref, top_db
        self.deltas, self.delta_width, self.max_frames = deltas, delta_width, max_frames
        win_fn = torch.hann_window if window == "hann" else torch.hamming_window
        self.register_buffer("window", win_fn(self.win_length, periodic=True), persistent=False)
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, fmin, fmax, mel_scale, mel_norm)
        self.register_buffer("mel_basis", torch.from_numpy(fb), persistent=False)

    def config(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "sample_rate n_fft win_length hop_length window_name center pad_mode power n_mels "
                "fmin fmax mel_scale mel_norm log amin ref top_db deltas delta_width max_frames"
            ).split()
        }

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.dim() == 1:
            waveform = waveform.unsqueeze(0)
        spec = torch.stft(
            waveform.float(),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            return_complex=True,
        ).abs()
        if self.power != 1.0:
            spec = spec.pow(self.power)
        mel = torch.matmul(self.mel_basis, spec)  # (B, n_mels, T)
        if self.log == "db":
            mel = 10.0 * torch.log10(mel.clamp_min(self.amin)) - 10.0 * np.log10(max(self.amin, self.ref))
            if self.top_db is not None:
                peak = mel.amax(dim=(-2, -1), keepdim=True)
                mel = torch.maximum(mel, peak - self.top_db)
        elif self.log == "ln":
            mel = torch.log(mel + self.amin)
        if self.max_frames is not None:
            mel = mel[..., : self.max_frames]
        feats = [mel]
        for _ in range(self.deltas):
            feats.append(delta(feats[-1], self.delta_width))
        return torch.stack(feats, dim=1)


def delta(x: torch.Tensor, width: int = 9) -> torch.Tensor:
    """Local slope along time by least squares over ``width`` frames, edges padded by
    repetition (librosa.feature.delta with mode='nearest')."""
    half = width // 2
    kernel = torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    kernel = kernel / (kernel**2).sum()
    flat = x.reshape(-1, 1, x.shape[-1])
    padded = F.pad(flat, (half, half), mode="replicate")
    out = F.conv1d(padded, kernel.view(1, 1, -1))
    return out.reshape(x.shape)
