"""Per-frequency standardisation fitted on (memory-mapped) training features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ascbench.frontends import LogMel, Standardize, StandardizedFrontend, fit_standardizer


def test_fit_streams_chunks_and_equals_full_statistics(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    shape = (37, 2, 6, 11)
    mm = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.float16, shape=shape)
    scale = rng.uniform(0.5, 4.0, size=(1, 2, 6, 1))
    offset = rng.uniform(-80, 10, size=(1, 2, 6, 1))
    mm[:] = (rng.standard_normal(shape) * scale + offset).astype(np.float16)
    mm.flush()
    data = np.load(tmp_path / "f.npy", mmap_mode="r")
    std = fit_standardizer(data, chunk=5)  # 8 chunks, the last one short
    full = np.asarray(data, dtype=np.float64)
    np.testing.assert_allclose(std.mean[..., 0].numpy(), full.mean(axis=(0, 3)), rtol=1e-5)
    np.testing.assert_allclose(std.std[..., 0].numpy(), full.std(axis=(0, 3)), rtol=1e-5)
    z = std(torch.from_numpy(full.astype(np.float32)))
    assert z.mean(dim=(0, 3)).abs().max() < 1e-4
    assert (z.std(dim=(0, 3), unbiased=False) - 1).abs().max() < 1e-4


def test_constant_bins_get_a_floor_and_state_dict_round_trips() -> None:
    x = np.zeros((4, 1, 3, 5), dtype=np.float32)
    x[:, 0, 1] = np.arange(20, dtype=np.float32).reshape(4, 5)
    std = fit_standardizer(x, eps=1e-3)
    assert float(std.std[0, 0, 0]) == pytest.approx(1e-3)
    clone = Standardize(torch.zeros(1, 3), torch.ones(1, 3))
    clone.load_state_dict(std.state_dict())
    assert clone.fingerprint() == std.fingerprint() != Standardize(
        torch.zeros(1, 3), torch.ones(1, 3)).fingerprint()


def test_standardized_frontend_applies_statistics() -> None:
    fe = LogMel(sample_rate=16000, n_fft=512, hop_length=256, n_mels=20)
    wave = torch.from_numpy(np.random.default_rng(1).standard_normal((3, 16000)).astype(np.float32))
    feats = fe(wave)
    std = fit_standardizer(feats)
    wrapped = StandardizedFrontend(fe, std)
    torch.testing.assert_close(wrapped(wave), std(feats))
    assert wrapped.sample_rate == 16000 and wrapped.fingerprint() != fe.fingerprint()
    assert wrapped.output_shape(1.0) == (1, 20, 63)


def test_fit_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="clips, channels"):
        fit_standardizer(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match="zero clips"):
        fit_standardizer(np.zeros((0, 1, 4, 5)))
