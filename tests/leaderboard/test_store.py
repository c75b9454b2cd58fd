"""The result store: layout, resume, atomic writes, validation of every file."""

from __future__ import annotations

import json
import os

import pytest

from ascbench import atomic as lb_io
from ascbench.atomic import OutputError, atomic_write_text
from ascbench.leaderboard import LeaderboardError, ResultStore


def test_layout_and_roundtrip(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    e = make_entry("kim2021", seed=3)
    path = store.write(e)
    assert path == tmp_path / "dcase2021" / "kim2021" / "seed3.json"
    assert store.predictions_path("kim2021", "dcase2021", 3) == path.with_name(
        "seed3.predictions.csv"
    )
    assert store.read(path) == e
    assert store.load_all() == [e]
    assert json.loads(path.read_text())["entry_hash"] == e.entry_hash


def test_exists_for_resume(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    assert not store.exists("a", "dcase2021", 0)
    store.write(make_entry("a"))
    store.write(make_entry("b", error="diverged"))
    assert store.exists("a", "dcase2021", 0)
    assert not store.exists("a", "dcase2021", 1)
    assert not store.exists("a", "dcase2022", 0)
    assert not store.exists("b", "dcase2021", 0)  # failed runs are retried on resume
    assert store.exists("b", "dcase2021", 0, include_failed=True)


def test_exists_refuses_a_tampered_file_instead_of_overwriting_it(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    path = store.write(make_entry("a", log_loss=0.9))
    path.write_text(path.read_text().replace('"log_loss": 0.9', '"log_loss": 0.5', 1))
    with pytest.raises(LeaderboardError, match="does not match entry_hash"):
        store.exists("a", "dcase2021", 0)


def test_write_is_idempotent_and_refuses_to_replace_a_different_result(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    first = make_entry("a", log_loss=0.9)
    path = store.write(first)
    mtime = path.stat().st_mtime_ns
    assert store.write(first) == path
    assert path.stat().st_mtime_ns == mtime
    second = make_entry("a", log_loss=0.8)
    with pytest.raises(LeaderboardError, match="already holds a different result"):
        store.write(second)
    assert store.read(path) == first
    store.write(second, overwrite=True)
    assert store.read(path) == second


def test_write_refuses_an_entry_whose_hash_is_stale(tmp_path, make_entry):
    stale = make_entry().model_copy(update={"reason": "changed after hashing"})
    with pytest.raises(LeaderboardError, match="entry_hash does not match"):
        ResultStore(tmp_path).write(stale)


@pytest.mark.parametrize("crash_in", ["fsync", "replace"])
def test_crash_mid_write_keeps_the_old_file(tmp_path, make_entry, monkeypatch, crash_in):
    store = ResultStore(tmp_path)
    old = make_entry("a", log_loss=0.9)
    path = store.write(old)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process is interrupted mid-write

    monkeypatch.setattr(lb_io.os, crash_in, crash)
    with pytest.raises(KeyboardInterrupt):
        store.write(make_entry("a", log_loss=0.5), overwrite=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert store.read(path) == old
    assert sorted(p.name for p in path.parent.iterdir()) == ["seed0.json"]  # no temp left


def test_write_error_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lb_io.os, "fsync", fail)
    with pytest.raises(OutputError) as info:
        atomic_write_text(target, "new")
    assert "No space left on device" in str(info.value)
    assert str(target) in str(info.value)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_leftover_temp_files_of_a_killed_run_are_ignored(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    path = store.write(make_entry("a"))
    (path.parent / ".seed1.json.abc123.tmp").write_text('{"half": ')  # killed mid-write
    (path.parent / "seed0.predictions.csv").write_text("filename\n")
    (path.parent / "notes.json").write_text("{}")
    assert [e.system.name for e in store.load_all()] == ["a"]


def test_malformed_file_gives_one_line_error_naming_it(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    store.write(make_entry("a"))
    bad = tmp_path / "dcase2021" / "b" / "seed0.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"schema_version": 1, "system": ')
    with pytest.raises(LeaderboardError) as info:
        store.load_all()
    message = str(info.value)
    assert message.startswith(str(bad))
    assert "not valid JSON (line 1" in message
    assert "\n" not in message


def test_lenient_mode_collects_errors(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    store.write(make_entry("a"))
    store.write(make_entry("c"))
    tampered = store.write(make_entry("b", accuracy=50.0))
    tampered.write_text(tampered.read_text().replace('"accuracy": 50.0', '"accuracy": 90.0', 1))
    invalid = tmp_path / "dcase2021" / "d" / "seed0.json"
    invalid.parent.mkdir()
    invalid.write_text(json.dumps({"schema_version": 1}))
    errors: list[str] = []
    entries = store.load_all(errors=errors)
    assert [e.system.name for e in entries] == ["a", "c"]
    assert len(errors) == 2
    assert errors[0].startswith(str(tampered)) and "entry_hash" in errors[0]
    assert errors[1].startswith(str(invalid)) and "not a valid leaderboard entry" in errors[1]


def test_misplaced_file_is_refused(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    path = store.write(make_entry("a"))
    moved = tmp_path / "dcase2021" / "b" / "seed0.json"
    moved.parent.mkdir()
    moved.write_bytes(path.read_bytes())
    with pytest.raises(LeaderboardError, match="belongs at"):
        store.read(moved)


def test_missing_results_dir(tmp_path):
    store = ResultStore(tmp_path / "nope")
    with pytest.raises(LeaderboardError, match="results directory not found"):
        store.load_all()
    errors: list[str] = []
    assert store.load_all(errors=errors) == [] and len(errors) == 1


def test_unsafe_names_never_become_paths(tmp_path):
    with pytest.raises(LeaderboardError, match="system name"):
        ResultStore(tmp_path).path_for("..", "dcase2021", 0)
    with pytest.raises(LeaderboardError, match="rule-set name"):
        ResultStore(tmp_path).path_for("a", "x/y", 0)
