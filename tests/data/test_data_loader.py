"""load_dataset / check_dataset / default_dataset: dispatch, cached synthetic default, checks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ascbench.data.loader as loader
from ascbench.data import check_dataset, default_dataset, load_dataset, style_for
from ascbench.data.synth import SynthConfig
from ascbench.errors import DatasetError

from .helpers import write_text

TINY22 = SynthConfig(style="tau2022", scenes=("bus", "park"), locations_train=1,
                     locations_test=1, train_a=1, train_per_device=1, test_per_device=1, slices=1)
TINY20 = SynthConfig(style="tau2020", scenes=("tram",), locations_train=1, locations_test=1,
                     train_a=1, train_per_device=0, test_per_device=1)


@pytest.fixture
def tiny_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point the cache at tmp_path and make the synthetic defaults tiny."""
    monkeypatch.setenv("ASCBENCH_CACHE", str(tmp_path / "cache"))
    tiny = {"tau2022": TINY22, "tau2020": TINY20}
    monkeypatch.setattr(SynthConfig, "default",
                        classmethod(lambda cls, style="tau2022", **kw: tiny[style]))
    return tmp_path / "cache"


def _error(path: object, **kw: object) -> str:
    with pytest.raises(DatasetError) as info:
        load_dataset(path, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    return str(info.value)


def test_style_for_rule_set_clip_length() -> None:
    assert style_for(None) == "tau2022" and style_for(1.0) == "tau2022"
    assert style_for(10.0) == "tau2020"
    with pytest.raises(DatasetError, match="no synthetic default for 5-s clips"):
        style_for(5.0)


def test_default_is_generated_once_into_the_cache(tiny_defaults: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ds = load_dataset(None, progress=False)
    assert ds.name == "synthetic-tau2022" and ds.clip_seconds == 1.0
    assert ds.root == tiny_defaults / "synthetic" / f"tau2022-v{TINY22.key()}"
    assert any("NOT comparable with DCASE" in n for n in ds.notes)

    def fail(*a: object, **k: object) -> None:
        raise AssertionError("regenerated")

    monkeypatch.setattr(loader, "_render_dataset", fail)
    assert default_dataset("tau2022", progress=False).splits == ds.splits
    assert load_dataset("synthetic", clip_seconds=1.0).root == ds.root


def test_default_for_10s_rule_set(tiny_defaults: Path) -> None:
    ds = load_dataset(None, clip_seconds=10.0, progress=False)
    assert ds.name == "synthetic-tau2020" and ds.clip_seconds == 10.0
    assert load_dataset("synthetic:tau2020").root == ds.root
    with pytest.raises(DatasetError, match="unknown synthetic dataset 'synthetic:tau1999'"):
        load_dataset("synthetic:tau1999")


def test_concurrent_generation_happens_once(tiny_defaults: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = loader._render_dataset

    def slow(out: Path, config: SynthConfig, progress: bool) -> dict[str, int]:
        calls.append(1)
        time.sleep(0.3)
        return real(out, config, progress)

    monkeypatch.setattr(loader, "_render_dataset", slow)
    stale = tiny_defaults / "synthetic" / f".tau2022-v{TINY22.key()}.tmp-1-dead"
    stale.mkdir(parents=True)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(
        loader.ensure_synthetic(TINY22, progress=False))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1 and len(results) == 3
    assert not stale.exists()
    assert [p.name for p in (tiny_defaults / "synthetic").iterdir() if ".tmp-" in p.name] == []


def test_dispatch_tau_meta_labels(tau2022: Path, tmp_path: Path) -> None:
    assert load_dataset(tau2022).name == "tau2022-mobile-dev"
    assert load_dataset(tau2022 / "meta.csv").root == tau2022
    # a labels CSV beside the TAU folder lists files inside its own folder tree
    rows = ["filename,scene_label,split", "TAU-urban-acoustic-scenes-2022-mobile-"
            "development/audio/bus-paris-20-500-0-b.wav,bus,train",
            "TAU-urban-acoustic-scenes-2022-mobile-development/audio/"
            "tram-vienna-7-70-0-c.wav,tram,test"]  # fmt: skip
    write_text(tmp_path / "real.csv", rows)
    ds = load_dataset(tmp_path / "real.csv")
    assert ds.name == "folder" and ds.splits["train"][0].device == "b"
    # the same rows one folder down reach the files through '..': refused (issue 16)
    write_text(tmp_path / "real" / "labels.csv",
               [rows[0]] + ["../" + r for r in rows[1:]])  # fmt: skip
    assert "points outside the dataset folder" in _error(tmp_path / "real")


def test_dispatch_errors(tmp_path: Path) -> None:
    assert "no such file or folder" in _error(tmp_path / "nope")
    (tmp_path / "x.bin").write_bytes(b"x")
    assert "not a dataset" in _error(tmp_path / "x.bin")
    (tmp_path / "empty").mkdir()
    msg = _error(tmp_path / "empty")
    assert "not a dataset" in msg and "labels.csv" in msg and "meta.csv" in msg


def test_clip_length_mismatch(tau2020: Path) -> None:
    assert "clips are 10 s long but 1-s clips are required" in _error(tau2020, clip_seconds=1.0)
    assert load_dataset(tau2020, clip_seconds=10.0).clip_seconds == 10.0


def test_decode_finds_nan_audio(tau2022: Path) -> None:
    bad = tau2022 / "audio" / "tram-vienna-7-70-0-c.wav"
    x = np.zeros(8000)
    x[5] = np.nan
    sf.write(str(bad), x, 8000, subtype="FLOAT")
    assert check_dataset(tau2022).ok  # headers are fine
    report = check_dataset(tau2022, decode=True)
    assert not report.ok
    assert "1 of 9 audio files are unusable" in report.errors[0]
    assert "tram-vienna-7-70-0-c.wav: the audio holds NaN" in report.errors[0]


def test_several_problems_point_to_data_check(tau2022: Path) -> None:
    (tau2022 / "audio" / "bus-paris-20-500-1-b.wav").unlink()
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    train.write_text(train.read_text().replace("\tpark", "\tforest"))
    msg = _error(tau2022)
    assert "and 1 more problem; run `ascbench data check" in msg


def test_off_a_terminal_the_default_dataset_is_announced_in_plain_lines(tmp_path, monkeypatch,
                                                                          capsys):
    """Redirected output (or --no-progress) gets no progress bar but two log lines, so a long
    silent step does not look like a hang (issue 17); `data check` draws no bar into a
    redirected stderr."""
    from ascbench.data import SynthConfig, loader

    monkeypatch.setenv("ASCBENCH_CACHE", str(tmp_path / "cache"))
    tiny = SynthConfig(style="tau2022", scenes=("airport", "bus"), locations_train=2,
                       locations_test=1, train_a=2, train_per_device=1, test_per_device=1,
                       slices=1)  # fmt: skip
    loader.ensure_synthetic(tiny, progress=False)  # as `run` off a terminal
    err = capsys.readouterr().err
    assert "ascbench: synthesising the default dataset once into" in err
    assert "ascbench: default dataset ready in" in err
    assert "\r" not in err and "clip/s" not in err  # no tqdm bar in a redirected stream
    loader.ensure_synthetic(tiny, progress=True)  # already there: says nothing
    assert capsys.readouterr().err == ""
    data = loader.synthetic_dir(tiny)
    from ascbench.cli import main

    assert main(["data", "check", "--full", str(data)]) == 0
    assert "file/s" not in capsys.readouterr().err
