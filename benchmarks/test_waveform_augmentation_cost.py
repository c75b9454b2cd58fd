"""What training on augmented waveforms costs: a CP-Mobile training step from cached features
against the same step from audio (device impulse response, waveform roll, then the
``cpmobile`` frontend), interleaved round by round in one run.

    pytest benchmarks/test_waveform_augmentation_cost.py --benchmark-only \
        --benchmark-json=benchmarks/results/waveform-cost.json
    python scripts/readme_waveform_cost.py --write

Needs the ascbench-schmid2023 plugin (CP-Mobile). Batch of 64 one-second clips at 32 kHz,
torch's default threads.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from ascbench.frontends.presets import preset
from ascbench.training.parts import DeviceImpulseResponse, WaveformRoll

cp_mobile = pytest.importorskip("ascbench_schmid2023.cp_mobile").cp_mobile

BATCH, ROUNDS = 64, 7


def _step(model, optimizer, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def test_step_from_audio_against_step_from_cached_features(benchmark, tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "irs").mkdir()
    for i in range(4):
        ir = rng.standard_normal(1600) * np.exp(-np.arange(1600) / 300)
        sf.write(tmp_path / "irs" / f"ir{i}.wav", (ir / np.abs(ir).max()).astype(np.float32),
                 32000)  # fmt: skip
    frontend = preset("cpmobile")
    dir_aug = DeviceImpulseResponse(str(tmp_path / "irs"), p=0.6, sample_rate=32000)
    roll = WaveformRoll(4000)
    audio = torch.from_numpy(0.1 * rng.standard_normal((BATCH, 32000)).astype(np.float32))
    cached = frontend(audio)
    y = torch.arange(BATCH) % 10
    model = cp_mobile().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    devices = ["a"] * BATCH

    def from_audio():
        wave, _ = dir_aug(audio, [], rng, devices)
        wave, _ = roll(wave, [], rng, devices)
        _step(model, optimizer, frontend(wave), y)

    def from_cache():
        _step(model, optimizer, cached, y)

    times = {"audio": [], "cache": [], "frontend_and_augment": []}
    from_audio(), from_cache()  # warm-up
    for _ in range(ROUNDS):
        for name, fn in (("cache", from_cache), ("audio", from_audio)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        frontend(roll(dir_aug(audio, [], rng, devices)[0], [], rng, devices)[0])
        times["frontend_and_augment"].append(time.perf_counter() - start)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    benchmark.extra_info.update({
        "batch": BATCH, "rounds": ROUNDS, "threads": torch.get_num_threads(),
        "step_from_cache_s": medians["cache"], "step_from_audio_s": medians["audio"],
        "augment_and_frontend_s": medians["frontend_and_augment"],
        "ratio": medians["audio"] / medians["cache"], "loadavg": os.getloadavg()[0],
    })  # fmt: skip
    benchmark.pedantic(from_audio, rounds=1, iterations=1)
    assert medians["audio"] > 0 and medians["cache"] > 0
