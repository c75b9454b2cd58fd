"""Log-mel throughput: ascbench's LogMel against librosa on the same clips, in one run.

Workload: 16 clips of 10 s at 44.1 kHz (tones + noise, fixed seed), SP4ASC settings
(n_fft 2048, hop 1024, Hann, 256 Slaney mels, power_to_db with ref 1, amin 1e-10, no top_db).
librosa computes one clip per call (``melspectrogram`` + ``power_to_db``, its standard use);
ascbench computes the batch in one call with torch's default threads (all cores).

Run (prints a clips/s table and the speed ratios at the end)::

    pytest benchmarks/test_frontend_speed.py --benchmark-only

Each benchmark runs ``ROUNDS`` rounds after a warm-up; the table reports the median round.
``test_ratio_interleaved`` alternates librosa and ascbench round by round, so that load from
other processes hits both alike, and precedes each timed run by an untimed warm-up run of the
same library: both leave worker threads spinning for a while after a call (OpenBLAS in
librosa's mel product, OpenMP in torch), which steal the cores from whichever runs next
(measured: ascbench right after librosa runs at ~70 % of its speed; after a warm-up call at
its full speed; a pause instead of the warm-up is worse still, the idle cores first have to
wake up). It reports the median of the per-round speed ratios and the load average, so numbers
from a busy machine can be told from an idle one's.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from ascbench.frontends import LogMel

librosa = pytest.importorskip("librosa")

N_CLIPS = 16
SR = 44100
SECONDS = 10.0
ROUNDS = 9
WARMUP_CLIPS = 4  # librosa's untimed warm-up before each timed run
TOL_DB = 1e-3
GROUP = "logmel 10 s 44.1 kHz 256 mels (16 clips)"
SETTINGS = {"sample_rate": SR, "n_fft": 2048, "hop_length": 1024, "window": "hann",
            "center": True, "pad_mode": "constant", "n_mels": 256, "log": "db", "amin": 1e-10,
            "ref": 1.0, "top_db": None}


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(SR * SECONDS)) / SR
    tones = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.sin(2 * np.pi * 3100 * t)
    return (tones + 0.05 * rng.standard_normal((N_CLIPS, t.size))).astype(np.float32)


@pytest.fixture(scope="module")
def reference(clips: np.ndarray) -> np.ndarray:
    """librosa's features of all clips, ``(N_CLIPS, 256, 431)``."""
    return np.stack(_librosa(clips))


def _librosa(clips: np.ndarray) -> list[np.ndarray]:
    return [
        librosa.power_to_db(
            librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=1024, n_mels=256),
            ref=1.0, amin=1e-10, top_db=None,
        )
        for y in clips
    ]


def _librosa_prebuilt(clips: np.ndarray, basis: np.ndarray) -> list[np.ndarray]:
    return [
        librosa.power_to_db(basis @ (np.abs(librosa.stft(y, n_fft=2048, hop_length=1024)) ** 2),
                            ref=1.0, amin=1e-10, top_db=None)
        for y in clips
    ]


def _run(benchmark, fn, *args) -> object:
    benchmark.group = GROUP
    benchmark.extra_info["speed_clips"] = N_CLIPS
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    return benchmark.pedantic(fn, args=args, rounds=ROUNDS, iterations=1, warmup_rounds=1)


def test_librosa(benchmark, clips: np.ndarray) -> None:
    out = _run(benchmark, _librosa, clips)
    assert len(out) == N_CLIPS and out[0].shape == (256, 431)


def test_librosa_prebuilt_filters(benchmark, clips: np.ndarray) -> None:
    """librosa with the mel basis built once (stft + matrix product + power_to_db)."""
    basis = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=256)
    out = _run(benchmark, _librosa_prebuilt, clips, basis)
    assert out[0].shape == (256, 431)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_ascbench(benchmark, clips: np.ndarray, reference: np.ndarray, precision: str) -> None:
    frontend = LogMel(**SETTINGS, precision=precision)
    out = _run(benchmark, frontend, torch.from_numpy(clips))
    assert out.shape == (N_CLIPS, 1, 256, 431)
    err = float(np.abs(out[:, 0].numpy() - reference).max())
    benchmark.extra_info["max_abs_db_error_vs_librosa"] = err
    # float32 is not held to librosa's precision (it is on these moderate-range clips)
    assert err < (TOL_DB if precision == "float64" else 1e-2)


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_ratio_interleaved(benchmark, clips: np.ndarray, precision: str) -> None:
    """librosa and ascbench alternate round by round, each timed run after an untimed warm-up
    run of the same library; the median of the per-round speed ratios is reported."""
    frontend = LogMel(**SETTINGS, precision=precision)
    wave = torch.from_numpy(clips)
    lib_times: list[float] = []
    asc_times: list[float] = []

    def pair() -> None:
        _librosa(clips[:WARMUP_CLIPS])
        t0 = time.perf_counter()
        _librosa(clips)
        lib_times.append(time.perf_counter() - t0)
        frontend(wave)
        t0 = time.perf_counter()
        frontend(wave)
        asc_times.append(time.perf_counter() - t0)

    load_before = os.getloadavg()[0]
    benchmark.group = f"{GROUP}, interleaved pairs"
    benchmark.pedantic(pair, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    lib, asc = np.array(lib_times[1:]), np.array(asc_times[1:])  # drop the warm-up pair
    info = {
        "precision": precision,
        "speed_ratio_median": float(np.median(lib / asc)),
        "librosa_clips_per_s": float(N_CLIPS / np.median(lib)),
        "ascbench_clips_per_s": float(N_CLIPS / np.median(asc)),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }
    benchmark.extra_info.update(info)
    print(f"\ninterleaved {precision}: ascbench {info['ascbench_clips_per_s']:.1f} clips/s, "
          f"librosa {info['librosa_clips_per_s']:.1f} clips/s, median ratio "
          f"{info['speed_ratio_median']:.2f}x; 1-min load average {load_before:.1f} -> "
          f"{info['load_average_1min'][1]:.1f} on {os.cpu_count()} CPUs")
    assert len(lib) == ROUNDS


def test_feature_cache_fill_then_read(benchmark, tmp_path) -> None:
    """Fill the cache for 200 one-second 44.1 kHz 24-bit clips (Shao et al.'s 3 x 256 x 36
    features), then time ``features_for`` when the entry exists (it must not recompute)."""
    import soundfile as sf

    from ascbench.data.base import Clip, Dataset
    from ascbench.features import features_for
    from ascbench.frontends import preset

    rng = np.random.default_rng(1)
    clips = []
    for i in range(200):
        name = f"audio/clip{i:04d}.wav"
        (tmp_path / "audio").mkdir(exist_ok=True)
        sf.write(tmp_path / name, 0.1 * rng.standard_normal(SR), SR, subtype="PCM_24")
        clips.append(Clip(filename=name, scene_label="park", device="a"))
    ds = Dataset(name="bench", root=tmp_path, sample_rate=SR, clip_seconds=1.0,
                 splits={"train": clips, "test": []})
    frontend = preset("shao2022")
    t0 = time.perf_counter()
    filled = features_for(ds, "train", frontend, cache_root=tmp_path / "cache", progress=False)
    fill_s = time.perf_counter() - t0
    benchmark.group = "feature cache, 200 x 1 s clips"
    benchmark.extra_info.update({"cache_fill_seconds": fill_s,
                                 "cache_fill_clips_per_s": 200 / fill_s})
    read = benchmark.pedantic(features_for, args=(ds, "train", frontend),
                              kwargs={"cache_root": tmp_path / "cache", "progress": False},
                              rounds=ROUNDS, iterations=1)
    assert read.shape == filled.shape == (200, 3, 256, 36)
