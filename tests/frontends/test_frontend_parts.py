"""Deltas, block-sparse mel projection, batching, configuration and presets of the frontends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ascbench.errors import AscbenchError
from ascbench.frontends import (
    PRESETS,
    FrontendError,
    LogMel,
    delta,
    mel_filterbank,
    preset,
    stack_deltas,
)
from ascbench.frontends.melscale import MelBlocks
from ascbench.frontends.stft import SpectrogramKernel, stft_window

librosa = pytest.importorskip("librosa")


def _hu_delta(x: np.ndarray) -> np.ndarray:
    """Hu et al.'s valid width-5 delta: (x[t+1]-x[t-1])/10 + (x[t+2]-x[t-2])/5."""
    return (x[..., 3:-1] - x[..., 1:-3]) / 10.0 + (x[..., 4:] - x[..., :-4]) / 5.0


@pytest.mark.parametrize("mode", ["nearest", "interp"])
@pytest.mark.parametrize("width", [3, 5, 9])
def test_delta_matches_librosa(mode: str, width: int) -> None:
    x = np.random.default_rng(0).standard_normal((2, 7, 40)).astype(np.float32)
    got = delta(torch.from_numpy(x), width, mode).numpy()
    ref = librosa.feature.delta(x, width=width, mode=mode)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    # delta-delta = delta of the delta (HTK style)
    got2 = stack_deltas(torch.from_numpy(x), 2, width, mode)[:, 2].numpy()
    ref2 = librosa.feature.delta(ref, width=width, mode=mode)
    np.testing.assert_allclose(got2, ref2, atol=1e-5)


def test_valid_deltas_crop_to_delta_delta_length() -> None:
    x = np.random.default_rng(1).standard_normal((2, 5, 44)).astype(np.float32)
    out = stack_deltas(torch.from_numpy(x), 2, 5, "valid").numpy()
    assert out.shape == (2, 3, 5, 36)  # Shao et al.: 44 -> 36 frames
    d = _hu_delta(x)
    np.testing.assert_allclose(out[:, 0], x[..., 4:-4], atol=0)
    np.testing.assert_allclose(out[:, 1], d[..., 2:-2], atol=1e-6)
    np.testing.assert_allclose(out[:, 2], _hu_delta(d), atol=1e-6)
    one = stack_deltas(torch.from_numpy(x), 1, 5, "valid").numpy()
    assert one.shape == (2, 2, 5, 40)
    np.testing.assert_allclose(one[:, 1], d, atol=1e-6)


def test_delta_rejects_bad_width_and_short_input() -> None:
    x = torch.zeros(1, 3, 4)
    with pytest.raises(ValueError, match="odd"):
        delta(x, 4)
    with pytest.raises(ValueError, match="at least 5 frames"):
        delta(x, 5, "valid")


@pytest.mark.parametrize("interleave", [False, True])
@pytest.mark.parametrize("sr,n_fft,n_mels,fmax", [
    (44100, 2048, 256, None), (22050, 512, 40, 8000.0), (8000, 256, 128, None)])
def test_mel_blocks_equal_dense_product(interleave, sr, n_fft, n_mels, fmax) -> None:
    fb = mel_filterbank(sr, n_fft, n_mels, 0.0, fmax, dtype=np.float64)
    blocks = MelBlocks(fb, interleave=interleave)
    rows, bins = 13, fb.shape[1]
    src = torch.rand(rows, 2 * bins if interleave else bins, dtype=torch.float64)
    out = blocks.project_t(src, torch.empty(n_mels, rows, dtype=torch.float64))
    power = src[:, 0::2] + src[:, 1::2] if interleave else src
    ref = torch.from_numpy(fb) @ power.T
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-15)
    assert blocks.macs_per_frame < (2 if interleave else 1) * n_mels * bins


def test_mel_blocks_much_sparser_than_dense_at_256_mels() -> None:
    fb = mel_filterbank(44100, 2048, 256, dtype=np.float64)
    assert MelBlocks(fb).macs_per_frame * 10 < fb.size


@pytest.mark.parametrize("block_frames", [7, 50, 10_000])
def test_batch_and_blocking_do_not_change_results(block_frames: int) -> None:
    """Blocks spanning several clips, parts of one clip, or the whole batch agree."""
    rng = np.random.default_rng(2)
    wave = torch.from_numpy((0.1 * rng.standard_normal((5, 8000))).astype(np.float32))
    win = stft_window("hann", 400, 512)
    fb = mel_filterbank(16000, 512, 40, dtype=np.float64)
    ref_kernel = SpectrogramKernel(512, 160, win, pad_mode="reflect", block_frames=10_000)
    kernel = SpectrogramKernel(512, 160, win, pad_mode="reflect", block_frames=block_frames)
    for power in (2.0, 1.0):
        blocks = kernel.mel_blocks(fb, interleave=power == 2.0)
        ref = torch.stack([ref_kernel(wave[i : i + 1], power=power, mel=blocks)[0]
                           for i in range(5)])
        torch.testing.assert_close(kernel(wave, power=power, mel=blocks), ref, rtol=1e-6,
                                   atol=1e-12)
    bins = kernel(wave, power=2.0)
    assert bins.shape == (5, 51, 257)


def test_reflect_padding_needs_long_enough_clips() -> None:
    with pytest.raises(ValueError, match="reflect"):
        LogMel(n_fft=2048, pad_mode="reflect")(torch.zeros(1, 1000))
    # constant padding works for any length
    assert LogMel(n_fft=2048, hop_length=512)(torch.zeros(1, 1000)).shape == (1, 1, 256, 2)


def test_minmax_scaling_and_max_frames() -> None:
    wave = torch.from_numpy(np.random.default_rng(3).standard_normal((2, 44100)).astype(np.float32))
    out = LogMel(n_mels=64, log="ln", amin=1e-8, scaling="minmax", max_frames=30)(wave)
    assert out.shape == (2, 1, 64, 30)
    full = LogMel(n_mels=64, log="ln", amin=1e-8, scaling="minmax")(wave)
    for i in range(2):  # per-clip min-max over the whole clip, then the crop
        assert float(full[i].min()) == 0.0 and float(full[i].max()) == pytest.approx(1.0)
    torch.testing.assert_close(out, full[..., :30])


def test_config_round_trips_and_fingerprint_tracks_every_setting() -> None:
    f = LogMel(**PRESETS["cao2021"])
    assert LogMel(**f.config()).fingerprint() == f.fingerprint()
    others = [dict(PRESETS["cao2021"], **{k: v}) for k, v in [
        ("delta_mode", "nearest"), ("precision", "float32"), ("scaling", None),
        ("delta_width", 9), ("hop_length", 512), ("mel_scale", "slaney")]]
    prints = {LogMel(**cfg).fingerprint() for cfg in others} | {f.fingerprint()}
    assert len(prints) == len(others) + 1


@pytest.mark.parametrize("bad", [
    {"log": "log2"}, {"deltas": 3}, {"delta_width": 4}, {"delta_mode": "same"},
    {"weighting": "A", "log": "ln"}, {"fmax": 30000.0}, {"win_length": 4096},
    {"window": "no-such-window"}, {"precision": "float16"}, {"pad_mode": "edge"},
])
def test_invalid_settings_raise_one_line_errors(bad: dict) -> None:
    with pytest.raises(FrontendError) as info:
        LogMel(**bad)
    assert isinstance(info.value, AscbenchError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name,seconds,shape", [
    ("dcase2022-baseline", 1.0, (1, 40, 51)),
    ("dcase2021-baseline", 10.0, (1, 40, 500)),
    ("kim2021", 10.0, (1, 256, 431)),
    ("puy2021", 10.0, (1, 256, 431)),
    ("verbitskiy2021", 10.0, (1, 160, 640)),
    ("cao2021", 10.0, (3, 128, 423)),
    ("shao2022", 1.0, (3, 256, 36)),
])
def test_presets_give_the_reported_input_shapes(name: str, seconds: float, shape: tuple) -> None:
    f = preset(name)
    assert f.output_shape(seconds) == shape
    assert f.output_frames(int(seconds * f.sample_rate)) == shape[-1]


def test_unknown_preset() -> None:
    with pytest.raises(AscbenchError, match="unknown logmel preset"):
        preset("nope")


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.7])
def test_output_shape_without_forward_equals_forward(name: str, seconds: float) -> None:
    f = preset(name)
    if name.startswith("dcase2021") or name == "verbitskiy2021":
        f = preset(name, max_frames=None)
    wave = torch.zeros(1, int(round(seconds * f.sample_rate)))
    assert f.output_shape(seconds) == tuple(f(wave).shape[1:])
