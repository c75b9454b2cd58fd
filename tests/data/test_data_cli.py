"""``ascbench data synth / check / default`` through ascbench.cli.main."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascbench.cli import main
from ascbench.data.synth import SynthConfig

TINY_ARGS = ["--scenes", "bus", "--train-a", "1", "--locations-train", "1", "--locations-test",
             "1", "--train-per-device", "0", "--test-per-device", "1", "--slices", "1",
             "--quiet"]  # fmt: skip


def test_synth_writes_and_refuses_to_overwrite(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    assert main(["data", "synth", str(out), *TINY_ARGS]) == 0
    assert (out / "meta.csv").is_file() and len(list((out / "audio").iterdir())) == 10
    assert "NOT comparable with DCASE" in capsys.readouterr().out
    assert main(["data", "synth", str(out), *TINY_ARGS]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    before = (out / "meta.csv").read_bytes()
    assert main(["data", "synth", str(out), *TINY_ARGS, "--force", "--seed", "3"]) == 0
    assert (out / "meta.csv").read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]  # no temporary folders left


def test_synth_rejects_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "synth", str(tmp_path / "x"), "--train-a", "1",
                 "--locations-train", "3"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "invalid synthetic size" in err and "train_a" in err and err.count("\n") == 1
    assert main(["data", "synth", str(tmp_path / "x"), "--scenes", "beach"]) == 2
    assert not (tmp_path / "x").exists()


def test_check_prints_counts(tau2022: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(tau2022), "--full"]) == 0
    out = capsys.readouterr().out
    assert "name: tau2022-mobile-dev" in out and "clip length: 1 s" in out
    assert "sample rate: 8000 Hz" in out and "audio headers checked: all" in out
    assert "clips per split and device" in out and "clips per scene and split" in out
    train_row = next(line for line in out.splitlines() if line.strip().startswith("train"))
    assert train_row.split()[1:] == ["2", "2", "0", "1", "0", "5"]  # a b c s1 s4 total
    assert out.rstrip().endswith("OK")


def test_check_reports_problems(tau2022: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tau2022 / "audio" / "bus-paris-20-500-1-b.wav").unlink()
    assert main(["data", "check", str(tau2022)]) == 1
    out = capsys.readouterr().out
    assert "ERROR: 1 of 9 listed files are missing" in out and "1 problem(s) found" in out
    assert main(["data", "check", str(tau2022), "--skip-missing"]) == 0
    assert "warning: skipped 1 listed files" in capsys.readouterr().out
    assert main(["data", "check", str(tau2022), "--skip-missing", "--clip-seconds", "10"]) == 1
    assert "clips are 1 s long but 10-s clips are required" in capsys.readouterr().out


def test_check_wrong_level(tau2022: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "check", str(tau2022.parent)]) == 1
    assert f"a TAU dataset root is at {tau2022}" in capsys.readouterr().out


def test_data_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data"]) == 0
    assert "synth" in capsys.readouterr().out


def test_default_generates_into_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASCBENCH_CACHE", str(tmp_path))
    tiny = SynthConfig(style="tau2022", scenes=("park",), locations_train=1, locations_test=1,
                       train_a=1, train_per_device=0, test_per_device=1, slices=1)
    monkeypatch.setattr(SynthConfig, "default", classmethod(lambda cls, style, **kw: tiny))
    assert main(["data", "default"]) == 0
    out = capsys.readouterr().out
    assert "name: synthetic-tau2022" in out and str(tmp_path / "synthetic") in out
