"""The memory-mapped feature cache: fill, reuse, interruption, locking, labels."""

from __future__ import annotations

import json
import os
import pickle
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from ascbench.data.base import Clip, Dataset
from ascbench.errors import AscbenchError, DatasetError
from ascbench.features import FeatureCacheError, FeatureSet, entry_dir, features_for, load_entry
from ascbench.features import cache as cache_mod
from ascbench.frontends import FeatureExtractor, LogMel
from ascbench.scenes import SCENES

FILE_RATE = 48000  # files are resampled to the frontend's 16 kHz
SECONDS = 0.5


class Counting(FeatureExtractor):
    """Wraps a frontend, counting the clips it processes; can fail after ``fail_after`` calls."""

    def __init__(self, inner: FeatureExtractor, fail_after: int | None = None) -> None:
        super().__init__()
        self.inner, self.fail_after = inner, fail_after
        self.sample_rate = inner.sample_rate
        self.clips = 0
        self.calls = 0

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def fingerprint(self) -> str:
        return self.inner.fingerprint()

    def output_shape(self, clip_seconds: float) -> tuple[int, int, int]:
        return self.inner.output_shape(clip_seconds)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt  # like a user pressing Ctrl-C in the middle of a fill
        self.calls += 1
        self.clips += wave.shape[0]
        return self.inner(wave)


def _frontend(**kw: Any) -> LogMel:
    return LogMel(**{"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 32, **kw})


def _dataset(root: Path, n: int = 10, *, short: int | None = None) -> Dataset:
    rng = np.random.default_rng(0)
    clips = []
    for i in range(n):
        name = f"audio/clip{i:03d}.wav"
        (root / "audio").mkdir(parents=True, exist_ok=True)
        length = int(FILE_RATE * SECONDS) if i != short else int(FILE_RATE * SECONDS * 0.8)
        data = 0.1 * rng.standard_normal((length, 2))  # stereo, 24-bit
        sf.write(root / name, data, FILE_RATE, subtype="PCM_24")
        label = None if i == n - 1 else SCENES[i % len(SCENES)]
        clips.append(Clip(filename=name, scene_label=label, device=("a", "b", None)[i % 3]))
    return Dataset(name="toy", root=root, sample_rate=FILE_RATE, clip_seconds=SECONDS,
                   splits={"train": clips[:-2], "test": clips[-2:]})


def _direct(dataset: Dataset, split: str, frontend: FeatureExtractor) -> np.ndarray:
    from ascbench.data.audio import load_audio

    waves = np.stack([load_audio(dataset.path(c), frontend.sample_rate)[:8000]
                      for c in dataset.splits[split]])
    return frontend(torch.from_numpy(waves)).numpy()


def test_first_run_fills_second_run_reads(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data")
    fe = Counting(_frontend())
    t0 = time.perf_counter()
    fs = features_for(ds, "train", fe, cache_root=tmp_path / "cache", progress=False,
                      batch_size=3, dtype="float32")
    first = time.perf_counter() - t0
    assert fe.clips == 8 and fe.calls == 3
    assert isinstance(fs.features, np.memmap) and fs.shape == (8, 1, 32, 32)
    np.testing.assert_allclose(np.asarray(fs.features), _direct(ds, "train", fe.inner), atol=1e-5)
    assert fs.filenames == [c.filename for c in ds.splits["train"]]
    assert fs.labels.tolist() == [SCENES.index(c.scene_label) for c in ds.splits["train"]]
    assert fs.devices[:3] == ["a", "b", ""]

    fe2 = Counting(_frontend())
    t0 = time.perf_counter()
    again = features_for(ds, "train", fe2, cache_root=tmp_path / "cache", progress=False,
                         dtype="float32")
    second = time.perf_counter() - t0
    assert fe2.clips == 0 and fe2.calls == 0
    np.testing.assert_array_equal(np.asarray(again.features), np.asarray(fs.features))
    assert second < first
    x, y = again[2]
    assert x.dtype == torch.float32 and x.shape == (1, 32, 32) and y == fs.labels[2]
    assert len(again) == 8 and again.index_of(fs.filenames[5]) == 5


def test_unlabelled_clips_float16_storage_and_entry_files(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data")
    fe = _frontend()
    fs = features_for(ds, "test", fe, cache_root=tmp_path / "cache", progress=False)
    assert fs.features.dtype == np.float16
    assert fs.labels.tolist() == [8, -1]  # clip 8 is SCENES[8]; clip 9 is unlabelled
    ref = _direct(ds, "test", fe)
    # float16 keeps 11 significant bits: <= 2^-11 relative
    assert np.all(np.abs(np.asarray(fs.features, np.float32) - ref) <= np.abs(ref) * 2**-11 + 1e-6)
    entry = fs.path
    assert entry == entry_dir(ds, "test", fe, cache_root=tmp_path / "cache")
    assert sorted(p.name for p in entry.iterdir()) == ["features.npy", "index.json", "meta.json"]
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["complete"] and meta["shape"] == [2, 1, 32, 32] and meta["split"] == "test"
    assert not list(entry.parent.glob("*.lock")) and not list(entry.parent.glob("*.partial"))


def test_interrupted_fill_is_not_used_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _dataset(tmp_path / "data")
    cache = tmp_path / "cache"
    monkeypatch.setattr(cache_mod, "FLUSH_SECONDS", 0.0)  # checkpoint after every batch
    broken = Counting(_frontend(), fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        features_for(ds, "train", broken, cache_root=cache, progress=False, batch_size=3)
    final = entry_dir(ds, "train", broken, cache_root=cache)
    partial = final.with_name(final.name + ".partial")
    assert not final.exists() and partial.is_dir()
    assert json.loads((partial / "progress.json").read_text())["done"] == 6
    with pytest.raises(FeatureCacheError, match="not a complete"):
        load_entry(partial)
    assert not final.with_name(final.name + ".lock").exists()  # released on the way out

    resumed = Counting(_frontend())
    fs = features_for(ds, "train", resumed, cache_root=cache, progress=False, batch_size=3)
    assert resumed.clips == 2  # only the rows after the last flush
    clean = features_for(ds, "train", _frontend(), cache_root=tmp_path / "clean",
                         progress=False)
    np.testing.assert_array_equal(np.asarray(fs.features), np.asarray(clean.features))
    assert not partial.exists()


def test_partial_with_mismatched_progress_restarts(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data")
    fe = Counting(_frontend())
    final = entry_dir(ds, "train", fe, cache_root=tmp_path / "cache")
    partial = final.with_name(final.name + ".partial")
    partial.mkdir(parents=True)
    (partial / "progress.json").write_text(json.dumps({"done": 5, "shape": [1, 2], "version": 1}))
    (partial / "features.npy").write_bytes(b"garbage")
    # an incomplete directory at the final name (e.g. copied by hand) is replaced, not trusted
    final.mkdir()
    (final / "meta.json").write_text(json.dumps({"complete": False}))
    fs = features_for(ds, "train", fe, cache_root=tmp_path / "cache", progress=False)
    assert fe.clips == 8 and fs.shape[0] == 8


def test_dead_lock_holder_is_taken_over(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    fe = _frontend()
    final = entry_dir(ds, "train", fe, cache_root=tmp_path / "cache")
    final.parent.mkdir(parents=True)
    lock = final.with_name(final.name + ".lock")
    dead_pid = 2**22 + 12345
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": dead_pid, "since": 0}))
    fs = features_for(ds, "train", fe, cache_root=tmp_path / "cache", progress=False)
    assert fs.shape[0] == 2 and not lock.exists()


def test_lock_staleness_rules(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    assert not cache_mod._is_stale(lock, stale_after=0.0)  # we are alive
    lock.write_text(json.dumps({"host": "other-machine", "pid": 1}))
    assert not cache_mod._is_stale(lock, stale_after=60.0)  # fresh heartbeat
    old = time.time() - 120
    os.utime(lock, (old, old))
    assert cache_mod._is_stale(lock, stale_after=60.0)  # no heartbeat for 2 minutes
    cache_mod._break(lock)
    assert not lock.exists()
    assert cache_mod._acquire(lock) and not cache_mod._acquire(lock)
    cache_mod._release(lock)
    assert not lock.exists()


def test_key_depends_on_frontend_dtype_and_clips(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=6)
    root = tmp_path / "cache"
    base = entry_dir(ds, "train", _frontend(), cache_root=root)
    assert entry_dir(ds, "train", _frontend(), cache_root=root) == base
    assert entry_dir(ds, "train", _frontend(n_fft=256), cache_root=root) != base
    assert entry_dir(ds, "train", _frontend(), cache_root=root, dtype="float32") != base
    assert entry_dir(ds, "test", _frontend(), cache_root=root) != base
    fewer = ds.model_copy(update={"splits": {"train": ds.splits["train"][:-1],
                                             "test": ds.splits["test"]}})
    assert entry_dir(fewer, "train", _frontend(), cache_root=root) != base


def test_short_clips_are_padded_and_recorded(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4, short=1)
    fs = features_for(ds, "train", _frontend(), cache_root=tmp_path / "cache", progress=False,
                      dtype="float32")
    meta = json.loads((fs.path / "meta.json").read_text())
    assert meta["length_adjusted"] == 1
    assert meta["length_adjusted_examples"][0].startswith("audio/clip001.wav")
    assert fs.shape == (2, 1, 32, 32)


def test_float16_overflow_is_reported(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    loud = _frontend(log="none", mel_norm=None)
    with pytest.raises(FeatureCacheError, match="float16 range.*float32"):
        features_for(ds, "train", _LoudWrapper(loud), cache_root=tmp_path / "cache",
                     progress=False)


class _LoudWrapper(Counting):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.inner(wave * 1000.0)


def test_errors_for_unknown_split_label_and_dtype(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    with pytest.raises(DatasetError, match="no split 'valid'"):
        features_for(ds, "valid", _frontend(), cache_root=tmp_path / "c", progress=False)
    with pytest.raises(AscbenchError, match="dtype"):
        features_for(ds, "train", _frontend(), cache_root=tmp_path / "c", dtype="int8")
    odd = ds.model_copy(update={"splits": {"train": [Clip(filename="audio/clip000.wav",
                                                          scene_label="beach")]}})
    with pytest.raises(DatasetError, match="'beach' is not one of"):
        features_for(odd, "train", _frontend(), cache_root=tmp_path / "c", progress=False)


def test_unwritable_cache_root_is_a_one_line_error(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FeatureCacheError, match="cannot write the feature cache") as info:
        features_for(ds, "train", _frontend(), cache_root=blocker / "cache", progress=False)
    assert "\n" not in str(info.value)


def test_feature_set_pickles_without_the_memmap(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    fs = features_for(ds, "train", _frontend(), cache_root=tmp_path / "cache", progress=False)
    blob = pickle.dumps(fs)
    assert len(blob) < 4096  # the features are not in the pickle
    back = pickle.loads(blob)
    assert isinstance(back, FeatureSet) and isinstance(back.features, np.memmap)
    torch.testing.assert_close(back[1][0], fs[1][0])
    loader = torch.utils.data.DataLoader(fs, batch_size=2)
    xb, yb = next(iter(loader))
    assert xb.shape == (2, 1, 32, 32) and yb.tolist() == fs.labels[:2].tolist()


def test_empty_split_gives_empty_set(tmp_path: Path) -> None:
    ds = _dataset(tmp_path / "data", n=4)
    empty = ds.model_copy(update={"splits": {**ds.splits, "eval": []}})
    fs = features_for(empty, "eval", _frontend(), cache_root=tmp_path / "cache", progress=False)
    assert len(fs) == 0 and fs.shape == (0, 1, 32, 32)


class _Slow(Counting):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        time.sleep(0.2)
        return super().forward(wave)


def test_second_process_waits_for_the_filler_and_reads(tmp_path: Path) -> None:
    """Two fills of the same entry at once: one computes, the other waits and reads it."""
    import threading

    ds = _dataset(tmp_path / "data")
    slow = _Slow(_frontend())
    results: dict[str, FeatureSet] = {}
    filler = threading.Thread(target=lambda: results.update(a=features_for(
        ds, "train", slow, cache_root=tmp_path / "cache", progress=False, batch_size=2)))
    filler.start()
    entry = entry_dir(ds, "train", slow, cache_root=tmp_path / "cache")
    lock = entry.with_name(entry.name + ".lock")
    deadline = time.time() + 30
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.01)
    waiter = _Slow(_frontend())  # same class: the cache key includes the frontend's class
    got = features_for(ds, "train", waiter, cache_root=tmp_path / "cache", progress=False)
    filler.join()
    assert waiter.clips == 0 and slow.clips == 8
    np.testing.assert_array_equal(np.asarray(got.features), np.asarray(results["a"].features))


def test_take_gathers_rows_as_indexing_does(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = (rng.standard_normal((12, 2, 5, 7)) * 30).astype(np.float16)
    np.save(tmp_path / "features.npy", values)
    memmap = np.load(tmp_path / "features.npy", mmap_mode="r")
    rows = [7, 0, 7, 11, 3]
    for features, transform in ((memmap, None), (values, None), (values, lambda x: x * 2 + 1)):
        fs = FeatureSet(features, [f"c{i}" for i in range(12)], np.arange(12) % 10, [""] * 12,
                        transform=transform)  # fmt: skip
        taken = fs.take(rows)
        assert taken.dtype == torch.float32 and taken.shape == (5, 2, 5, 7)
        assert torch.equal(taken, torch.stack([fs[i][0] for i in rows]))
        assert fs.take(torch.tensor(rows)).equal(taken) and fs.take([]).shape == (0, 2, 5, 7)
