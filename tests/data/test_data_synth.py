"""The synthetic TAU-shaped dataset: layout, grammar, devices, splits, determinism, content."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ascbench.data.synth import SynthConfig, content_digest, plan, synthesize
from ascbench.data.tau import load_tau, scan_tau
from ascbench.errors import DatasetError

from .helpers import TINY

NAME_2022 = re.compile(r"^audio/([a-z_]+)-([a-z]+)-(\d+)-(\d+)-(\d)-(a|b|c|s[1-6])\.wav$")
NAME_2020 = re.compile(r"^audio/([a-z_]+)-([a-z]+)-(\d+)-(\d+)-(a|b|c|s[1-6])\.wav$")


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def test_official_layout_and_grammar(tiny_synth: Path) -> None:
    root = tiny_synth
    for rel in ("meta.csv", "evaluation_setup/fold1_train.csv",
                "evaluation_setup/fold1_evaluate.csv", "evaluation_setup/fold1_test.csv",
                "split_setup/split25.csv", "split_setup/test.csv", "synthetic.json"):  # fmt: skip
        assert (root / rel).is_file(), rel
    meta = _tsv(root / "meta.csv")
    assert list(meta[0]) == ["filename", "scene_label", "identifier", "source_label"]
    assert (root / "meta.csv").read_bytes().endswith(b"\n")
    for row in meta:
        m = NAME_2022.match(row["filename"])
        assert m, row["filename"]
        scene, city, loc, _, _, dev = m.groups()
        assert row["scene_label"] == scene and row["identifier"] == f"{city}-{loc}"
        assert row["source_label"] == dev
    assert len(list((root / "audio").iterdir())) == len(meta)
    test = _tsv(root / "evaluation_setup" / "fold1_evaluate.csv")
    assert [r["filename"] for r in _tsv(root / "evaluation_setup" / "fold1_test.csv")] == \
        [r["filename"] for r in test]
    counts = TINY.expected_counts()
    assert len(_tsv(root / "evaluation_setup" / "fold1_train.csv")) == counts["train"]
    assert len(test) == counts["test"]


def test_audio_format(tiny_synth: Path) -> None:
    for path in sorted((tiny_synth / "audio").iterdir())[:10]:
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == \
            (44100, 1, "PCM_24", 44100)
        x, _ = sf.read(str(path))
        assert 1e-4 < np.sqrt(np.mean(x**2)) < 0.3 and np.abs(x).max() < 1.0


def test_devices_splits_locations_parallel_recordings(tiny_synth: Path) -> None:
    ds = load_tau(tiny_synth)
    assert ds.name == "synthetic-tau2022" and ds.clip_seconds == 1.0
    train, test = ds.splits["train"], ds.splits["test"]
    assert {c.device for c in train} == {"a", "b", "c", "s1", "s2", "s3"}
    assert {c.device for c in test} == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}
    per_device = defaultdict(int)
    for c in test:
        per_device[c.device] += 1
    assert len(set(per_device.values())) == 1  # balanced test devices, as in TAU
    assert not {c.identifier for c in train} & {c.identifier for c in test}  # location-disjoint
    assert not {c.parent for c in train} & {c.parent for c in test}
    # parallel recordings: the same segment on several devices
    devices_of = defaultdict(set)
    for c in train + test:
        devices_of[c.parent.rsplit("-", 1)[0]].add(c.device)
    assert max(map(len, devices_of.values())) >= 2
    assert sum(len(v) > 1 for v in devices_of.values()) >= len(TINY.scenes)


def test_2024_splits_are_nested_whole_recordings(tiny_synth: Path) -> None:
    sets = {p: {r["filename"] for r in _tsv(tiny_synth / "split_setup" / f"split{p}.csv")}
            for p in (5, 10, 25, 50, 100)}  # fmt: skip
    assert sets[5] <= sets[10] <= sets[25] <= sets[50] <= sets[100]
    train = {r["filename"] for r in _tsv(tiny_synth / "evaluation_setup" / "fold1_train.csv")}
    assert sets[100] == train
    ds = load_tau(tiny_synth, split="split50")
    parents_in = {c.parent for c in ds.splits["train"]}
    full = load_tau(tiny_synth).splits["train"]
    assert all(c.filename in sets[50] for c in full if c.parent in parents_in)


def test_same_seed_gives_identical_bytes(tiny_synth: Path, tmp_path: Path) -> None:
    again = synthesize(tmp_path / "again", TINY)
    assert _digest(again) == _digest(tiny_synth)
    recorded = json.loads((again / "synthetic.json").read_text())["content_sha256"]
    assert recorded == content_digest(again)
    assert scan_tau(again, headers="all").ok
    path = again / "audio" / sorted(p.name for p in (again / "audio").iterdir())[0]
    path.write_bytes(path.read_bytes()[:-3] + b"\x00\x00\x01")  # one sample changed
    assert scan_tau(again).ok  # the default check does not hash the audio
    report = scan_tau(again, headers="all")
    assert "files were changed after generation" in report.errors[0]
    other = synthesize(tmp_path / "other", TINY.model_copy(update={"seed": 8}))
    a, b = _digest(tiny_synth), _digest(other)
    assert set(a) != set(b) or any(a[k] != b[k] for k in a)


def test_scenes_are_separable_beyond_chance(tiny_synth: Path) -> None:
    """Not noise: a nearest-centroid classifier on the spectral shape (frame-averaged log band
    energies, level removed) separates the four scenes well above chance (25 %)."""
    ds = load_tau(tiny_synth)
    edges = np.geomspace(100, 16000, 25)
    frame = 2048
    f = np.fft.rfftfreq(frame, 1 / 44100)
    bands = [(f >= lo) & (f < hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]

    def shape(clip: object) -> np.ndarray:
        x, _ = sf.read(str(ds.path(clip)))  # type: ignore[arg-type]
        frames = x[: len(x) // frame * frame].reshape(-1, frame) * np.hanning(frame)
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        v = np.log(np.stack([power[:, b].mean(axis=1) for b in bands], 1) + 1e-12).mean(0)
        return v - v.mean()

    train, test = ds.splits["train"], ds.splits["test"]
    xtr, xte = np.array([shape(c) for c in train]), np.array([shape(c) for c in test])
    labels = sorted(TINY.scenes)
    centroids = np.array([xtr[[c.scene_label == s for c in train]].mean(axis=0) for s in labels])
    nearest = np.argmin(((xte[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    acc = np.mean([labels[i] == c.scene_label for i, c in zip(nearest, test, strict=True)])
    assert acc >= 0.4, acc


def test_2020_style(tmp_path: Path) -> None:
    config = SynthConfig(style="tau2020", scenes=("tram",), locations_train=1, locations_test=1,
                         train_a=1, train_per_device=0, test_per_device=1, seed=1)
    root = synthesize(tmp_path / "t20", config)
    names = [r["filename"] for r in _tsv(root / "meta.csv")]
    assert len(names) == 10 and all(NAME_2020.match(n) for n in names)
    assert not (root / "split_setup").exists()
    ds = load_tau(root)
    assert ds.name == "synthetic-tau2020" and ds.clip_seconds == 10.0
    assert all(c.parent is None for c in ds.splits["test"])
    assert sf.info(str(ds.path(ds.splits["train"][0]))).frames == 441000


def test_plan_default_sizes() -> None:
    for style, train, test in (("tau2022", 900, 360), ("tau2020", 300, 180)):
        config = SynthConfig.default(style)
        assert config.expected_counts() == {"train": train, "test": test}
        segments = plan(config)
        n = sum(len(s.devices) * len(s.slices) for s in segments)
        assert n == train + test
        assert all(s.split == "test" for s in segments if {"s4", "s5", "s6"} & set(s.devices))


def test_config_validation_and_existing_output(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="train_a"):
        SynthConfig(train_a=2, locations_train=3)
    with pytest.raises(ValueError, match="scenes must be distinct names"):
        SynthConfig(scenes=("bus", "beach"))
    with pytest.raises(DatasetError, match="unknown synthetic style"):
        SynthConfig.default("tau2019")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(DatasetError, match="already exists and is not empty.*--force"):
        synthesize(tmp_path / "full", TINY)
    assert SynthConfig.default("tau2022").key() != TINY.key()
