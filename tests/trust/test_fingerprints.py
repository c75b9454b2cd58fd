"""Dataset fingerprints follow the files' contents, and a changed file recomputes only its own
cached features (issue 16: stale features were used silently)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from ascbench.data import load_dataset
from ascbench.data.audio import AudioError
from ascbench.features import features_for
from ascbench.frontends import LogMel
from tests.synthetic import tiny_tau2022


class CountingLogMel(LogMel):
    """LogMel that counts the clips it computed."""

    clips = 0

    def forward(self, waveform):
        CountingLogMel.clips += int(waveform.shape[0]) if waveform.dim() == 2 else 1
        return super().forward(waveform)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    return tiny_tau2022(tmp_path_factory.mktemp("fp") / "synth")


@pytest.fixture
def copy(original, tmp_path):
    return shutil.copytree(original, tmp_path / "copy")


def _frontend():
    return CountingLogMel(sample_rate=16000, n_fft=512, hop_length=256, n_mels=16)


def _flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # a sample's lowest bit, far from the header
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # size and mtime as before


def test_a_one_byte_change_with_the_mtime_restored_changes_the_fingerprint(copy):
    before = load_dataset(copy).fingerprint()
    assert load_dataset(copy).fingerprint() == before  # stable when nothing changed
    clip = load_dataset(copy).splits["train"][0]
    _flip_one_byte(copy / clip.filename)
    assert load_dataset(copy).fingerprint() != before


def test_a_changed_file_recomputes_only_its_own_row(copy, tmp_path):
    cache = tmp_path / "cache"
    dataset = load_dataset(copy)
    first = features_for(dataset, "train", _frontend(), cache_root=cache, progress=False)
    n = len(first.filenames)
    before = np.array(first.features)
    CountingLogMel.clips = 0
    again = features_for(load_dataset(copy), "train", _frontend(), cache_root=cache,
                         progress=False)  # fmt: skip
    assert CountingLogMel.clips == 0 and np.array_equal(np.array(again.features), before)
    changed = 3
    path = copy / first.filenames[changed]
    audio, rate = sf.read(path, dtype="float32")
    sf.write(path, audio * 0.5, rate, subtype=sf.info(path).subtype)
    CountingLogMel.clips = 0
    refreshed = features_for(load_dataset(copy), "train", _frontend(), cache_root=cache,
                             progress=False)  # fmt: skip
    after = np.array(refreshed.features)
    assert CountingLogMel.clips == 1  # one clip recomputed, not the split
    assert not np.array_equal(after[changed], before[changed])
    others = [i for i in range(n) if i != changed]
    assert np.array_equal(after[others], before[others])
    assert len(list(cache.iterdir())) == 1  # the same entry, refreshed, no leftovers


def test_audio_overwritten_with_nan_is_refused_not_served_from_the_cache(copy, tmp_path):
    cache = tmp_path / "cache"
    dataset = load_dataset(copy)
    features_for(dataset, "test", _frontend(), cache_root=cache, progress=False)
    clip = dataset.splits["test"][0]
    audio, rate = sf.read(copy / clip.filename, dtype="float32")
    sf.write(copy / clip.filename, np.full_like(audio, np.nan), rate, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or infinite"):
        features_for(load_dataset(copy), "test", _frontend(), cache_root=cache, progress=False)
