"""LogMel's options for CP-JKU's frontend: pre-emphasis, a symmetric window, Kaldi mel filters
and a fixed output scaling; each checked against its definition, and earlier presets' configs
(the feature-cache keys) unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from ascbench.frontends.base import FrontendError
from ascbench.frontends.logmel import LogMel
from ascbench.frontends.melscale import kaldi_mel_filterbank, mel_filterbank
from ascbench.frontends.presets import PRESETS, preset
from ascbench.frontends.stft import stft_window


def test_kaldi_filters_are_triangles_linear_in_mel_with_the_nyquist_bin_unused():
    bank = kaldi_mel_filterbank(32000, 4096, 256, 0.0, 15500.0)
    assert bank.shape == (256, 2049)
    assert not bank[:, -1].any()
    assert np.isclose(bank.max(), 1.0, atol=0.02) and bank.min() == 0.0
    mel = 1127.0 * np.log1p(np.arange(2048) * 32000 / 4096 / 700.0)
    edges = np.linspace(0.0, 1127.0 * np.log1p(15500 / 700.0), 258)
    k = 100  # filter 100: rises from edges[100] to edges[101], falls to edges[102]
    inside = (mel > edges[k]) & (mel < edges[k + 1])
    np.testing.assert_allclose(
        bank[k, :2048][inside], (mel[inside] - edges[k]) / (edges[k + 1] - edges[k])
    )
    assert np.array_equal(
        mel_filterbank(32000, 4096, 256, 0, 15500, "kaldi", None), bank.astype(np.float32)
    )
    with pytest.raises(ValueError, match="no normalisation"):
        mel_filterbank(32000, 4096, 256, 0, 15500, "kaldi", "slaney")


def test_a_symmetric_window_is_scipys_non_periodic_one_centred_in_n_fft():
    win = stft_window("hann", 3072, 4096, periodic=False)
    np.testing.assert_array_equal(
        win[512:3584], scipy.signal.get_window("hann", 3072, fftbins=False)
    )
    assert not win[:512].any() and not win[3584:].any()
    assert win[512] == 0.0 and win[3583] == 0.0  # symmetric: both ends are zero


def test_pre_emphasis_drops_one_sample_and_filters_before_the_stft():
    plain = LogMel(sample_rate=32000, n_fft=1024, hop_length=500, n_mels=32, log="none")
    emphasised = LogMel(sample_rate=32000, n_fft=1024, hop_length=500, n_mels=32, log="none",
                        preemphasis=0.97)  # fmt: skip
    assert plain.output_frames(32000) == 65 and emphasised.output_frames(32000) == 64
    x = torch.randn(2, 32000, generator=torch.Generator().manual_seed(0))
    filtered = x[:, 1:] - 0.97 * x[:, :-1]
    assert torch.allclose(emphasised(x), plain(filtered), rtol=1e-6, atol=1e-6)


def test_mean_and_std_scale_the_output():
    x = torch.randn(1, 8000, generator=torch.Generator().manual_seed(0))
    base = LogMel(sample_rate=16000, n_fft=512, hop_length=256, n_mels=20, log="ln", amin=1e-5)
    scaled = LogMel(**{**base.config(), "mean": -4.5, "std": 5.0})
    assert torch.allclose(scaled(x), (base(x) + 4.5) / 5.0, atol=1e-6)
    with pytest.raises(FrontendError, match="std=0"):
        LogMel(std=0.0)
    with pytest.raises(FrontendError, match="preemphasis=1.0"):
        LogMel(preemphasis=1.0)
    with pytest.raises(FrontendError, match="mel_norm='slaney'.*kaldi"):
        LogMel(mel_scale="kaldi", mel_norm="slaney")


def test_earlier_presets_keep_their_configs_and_cpmobile_rebuilds_from_its_own():
    for name in PRESETS:
        config = preset(name).config()
        if name != "cpmobile":
            assert not {"periodic", "preemphasis", "mean", "std"} & set(config)
        assert LogMel(**config).config() == config
    assert preset("cpmobile").config()["preemphasis"] == 0.97
