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
    power_to_db,
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
    blocks = MelBlocks(fb, interleave=interleave, dtype=torch.float64)
    rows, bins = 13, fb.shape[1]
    src = torch.rand(rows, 2 * bins if interleave else bins, dtype=torch.float64)
    out = blocks.project_t(src, torch.empty(n_mels, rows, dtype=torch.float64))
    power = src[:, 0::2] + src[:, 1::2] if interleave else src
    ref = torch.from_numpy(fb) @ power.T
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-15)
    assert blocks.macs_per_frame < (2 if interleave else 1) * n_mels * bins


def test_power_to_db_leaves_its_input_alone_unless_inplace() -> None:
    x = torch.tensor([[[1e-12, 1.0, 100.0]]])
    kept = x.clone()
    out = power_to_db(x, top_db=20.0)
    torch.testing.assert_close(x, kept)
    torch.testing.assert_close(out, torch.tensor([[[0.0, 0.0, 20.0]]]))
    same = power_to_db(x, ref="max", inplace=True)
    assert same.data_ptr() == x.data_ptr()
    torch.testing.assert_close(x, torch.tensor([[[-120.0, -20.0, 0.0]]]))  # amin 1e-10


def test_stack_deltas_without_deltas_is_a_view() -> None:
    x = torch.randn(2, 5, 7)
    out = stack_deltas(x, 0)
    assert out.shape == (2, 1, 5, 7) and out.data_ptr() == x.data_ptr()


def test_mel_blocks_much_sparser_than_dense_at_256_mels() -> None:
    fb = mel_filterbank(44100, 2048, 256, dtype=np.float64)
    assert MelBlocks(fb).macs_per_frame * 9 < fb.size
    assert MelBlocks(fb, overhead_macs=100).macs_per_frame * 40 < fb.size


@pytest.mark.parametrize("block_frames,fft_frames", [(7, 3), (50, 64), (10_000, 16)])
@pytest.mark.parametrize("threads", [1, 2])
def test_batch_and_blocking_do_not_change_results(
    block_frames: int, fft_frames: int, threads: int
) -> None:
    """Items spanning several clips, parts of one clip, or the whole batch, any FFT batch
    size and one or two threads agree with a one-clip-at-a-time float64 reference."""
    rng = np.random.default_rng(2)
    wave = torch.from_numpy((0.1 * rng.standard_normal((5, 8000))).astype(np.float32))
    win = stft_window("hann", 400, 512)
    fb = mel_filterbank(16000, 512, 40, dtype=np.float64)
    kernel = SpectrogramKernel(512, 160, win, pad_mode="reflect", block_frames=block_frames,
                               fft_frames=fft_frames)
    frames = 1 + 8000 // 160
    padded = np.pad(wave.numpy().astype(np.float64), ((0, 0), (256, 256)), mode="reflect")
    idx = np.arange(frames)[:, None] * 160 + np.arange(512)
    ref_bins = np.abs(np.fft.rfft(padded[:, idx] * win, axis=-1)) ** 2  # (5, T, 257)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for power in (2.0, 1.0):
            ref = ref_bins ** (power / 2)
            mel = kernel(wave, power=power, mel=kernel.mel_blocks(fb)).numpy()
            np.testing.assert_allclose(mel, np.einsum("mk,btk->bmt", fb, ref), rtol=2e-6)
            np.testing.assert_allclose(kernel(wave, power=power).numpy(), ref, rtol=2e-6,
                                       atol=1e-12)
    finally:
        torch.set_num_threads(previous)


def test_work_items_cover_every_frame_once_and_feed_every_thread() -> None:
    kernel = SpectrogramKernel(512, 160, stft_window("hann", 512, 512), block_frames=100)
    for batch, frames, workers in [(16, 431, 2), (1, 431, 2), (1, 50, 2), (40, 9, 2),
                                   (3, 1, 4), (5, 250, 1)]:
        items = kernel._items(batch, frames, workers)
        covered = np.zeros((batch, frames), dtype=int)
        for b0, b1, t0, t1 in items:
            covered[b0:b1, t0:t1] += 1
            assert (b1 - b0) * (t1 - t0) <= max(100, t1 - t0)
        assert (covered == 1).all(), (batch, frames, workers)
        assert len(items) >= min(workers, batch * frames)


def test_kept_buffers_do_not_leak_between_calls_or_threads() -> None:
    """Scratch buffers are kept per thread between calls: calls of other shapes in between,
    or from several threads at once, must not change any result."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    long = torch.from_numpy(rng.standard_normal((3, 16000)).astype(np.float32))
    short = torch.from_numpy(rng.standard_normal((5, 4000)).astype(np.float32))
    f = LogMel(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40, pad_mode="reflect")
    ref_long, ref_short = f(long).clone(), f(short).clone()
    with ThreadPoolExecutor(max_workers=4) as ex:
        outs = list(ex.map(f, [long, short, long, short, long, short]))
    for i, out in enumerate(outs):
        torch.testing.assert_close(out, ref_long if i % 2 == 0 else ref_short, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(f(long), ref_long, rtol=1e-6, atol=1e-5)


def test_empty_batch_gives_empty_features() -> None:
    for f in (LogMel(n_mels=64), LogMel(n_mels=64, weighting="A", top_db=80.0)):
        assert f(torch.zeros(0, 22050)).shape == (0, 1, 64, 22)


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
