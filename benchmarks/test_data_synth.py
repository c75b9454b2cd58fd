"""Synthetic dataset: generation time of the defaults and a learnability check.

The learnability check trains a logistic regression on per-clip mean log-mel energies (64
mels, librosa) on the training split and reports the test accuracy overall, per device and per
device group. The data must be learnable (well above the 10 % chance level) but not trivial
(well below 100 %), and the unseen devices s4-s6 must score lower than the real devices.

Run (generates the defaults into a temporary folder, about 1-2 minutes on 2 cores)::

    pytest benchmarks/test_data_synth.py --benchmark-only -s
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ascbench.data.synth import SynthConfig, synthesize
from ascbench.data.tau import load_tau
from ascbench.scenes import DEVICE_GROUPS

librosa = pytest.importorskip("librosa")
sklearn = pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, float]]:
    """Both default styles, generated once: ``{style: (root, seconds)}``."""
    out = {}
    for style in ("tau2022", "tau2020"):
        start = time.perf_counter()
        root = synthesize(tmp_path_factory.mktemp(style) / style, SynthConfig.default(style))
        out[style] = (root, time.perf_counter() - start)
    return out


def _features(root: Path, clips: list) -> np.ndarray:
    feats = []
    for clip in clips:
        y, sr = sf.read(str(root / clip.filename), dtype="float32")
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=1024, n_mels=64)
        feats.append(np.log(mel + 1e-10).mean(axis=1))
    return np.array(feats)


def learnability(root: Path) -> dict[str, float]:
    """Test accuracy of logistic regression on mean log-mel: overall, per device and group."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ds = load_tau(root)
    train, test = ds.splits["train"], ds.splits["test"]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    clf.fit(_features(root, train), [c.scene_label for c in train])
    pred = clf.predict(_features(root, test))
    ok = np.array([p == c.scene_label for p, c in zip(pred, test, strict=True)])
    dev = np.array([c.device for c in test])
    out = {"overall": float(ok.mean())}
    for group, devices in DEVICE_GROUPS.items():
        out[group] = float(ok[np.isin(dev, devices)].mean())
    for d in sorted(set(dev)):
        out[d] = float(ok[dev == d].mean())
    return out


@pytest.mark.parametrize("style", ["tau2022", "tau2020"])
def test_default_generation_and_learnability(benchmark, generated, style: str) -> None:
    root, seconds = generated[style]
    scores = benchmark.pedantic(learnability, args=(root,), rounds=1, iterations=1)
    counts = SynthConfig.default(style).expected_counts()
    benchmark.extra_info.update({"generation_s": round(seconds, 1), **counts,
                                 **{k: round(v, 3) for k, v in scores.items()}})  # fmt: skip
    print(f"\n{style}: generated {counts} in {seconds:.1f} s; logistic regression on mean "
          "log-mel: " + ", ".join(f"{k} {v:.1%}" for k, v in scores.items()))
    assert 0.2 < scores["overall"] < 0.8
    assert scores["unseen"] < scores["real"] - 0.05
