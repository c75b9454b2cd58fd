"""``ascbench leaderboard`` subcommands (driven through the command module's own parser)."""

from __future__ import annotations

import argparse
import json

import pytest

from ascbench.commands import leaderboard as command
from ascbench.errors import AscbenchError
from ascbench.leaderboard import ResultStore
from ascbench.leaderboard.schema import schema_text


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ascbench leaderboard")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv), None)


@pytest.fixture
def results(tmp_path, make_entry):
    store = ResultStore(tmp_path / "results")
    store.write(make_entry("a", log_loss=0.9))
    store.write(make_entry("b", log_loss=0.8))
    store.write(make_entry("x", "dcase2022", log_loss=1.1))
    return store.root


def test_show_prints_the_ranked_table(results, capsys):
    assert run(["show", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "dcase2021: DCASE 2021 Task 1A" in out and "dcase2022: DCASE 2022 Task 1" in out
    assert out.index("\n1  b ") < out.index("\n2  a ")
    assert run(["show", "--results", str(results), "--rules", "dcase2022"]) == 0
    out = capsys.readouterr().out
    assert "dcase2021" not in out and "x" in out


def test_show_unknown_ruleset_and_tampered_file(results, capsys):
    with pytest.raises(AscbenchError, match="no results for rule set 'dcase2099'"):
        run(["show", "--results", str(results), "--rules", "dcase2099"])
    path = results / "dcase2021" / "a" / "seed0.json"
    path.write_text(path.read_text().replace('"log_loss": 0.9', '"log_loss": 0.1', 1))
    with pytest.raises(AscbenchError) as info:
        run(["show", "--results", str(results)])
    assert str(info.value).startswith(str(path)) and "entry_hash" in str(info.value)
    assert run(["show", "--results", str(results), "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert f"ascbench: warning: skipped {path}" in captured.err
    assert "  a  " not in captured.out and "b" in captured.out


def test_merge_includes_what_out_already_holds(tmp_path, results, make_entry, capsys):
    out = tmp_path / "merged"
    assert run(["merge", str(results), "--out", str(out)]) == 0
    other = ResultStore(tmp_path / "other")
    other.write(make_entry("c", log_loss=0.7))
    assert run(["merge", str(other.root), "--out", str(out)]) == 0
    board = json.loads((out / "leaderboard-dcase2021.json").read_text())
    assert [r["system"] for r in board["rows"]] == ["c", "b", "a"]
    # a conflicting result is refused, and nothing in out changes
    before = (out / "dcase2021" / "a" / "seed0.json").read_bytes()
    clash = ResultStore(tmp_path / "clash")
    clash.write(make_entry("a", log_loss=0.5, finished_after=99_999))
    with pytest.raises(AscbenchError, match="conflicting results for a under dcase2021"):
        run(["merge", str(clash.root), "--out", str(out)])
    assert (out / "dcase2021" / "a" / "seed0.json").read_bytes() == before
    assert run(["merge", str(clash.root), "--out", str(out), "--prefer-newest"]) == 0
    assert ResultStore(out).get("a", "dcase2021", 0).metrics.log_loss == 0.5


def test_render_writes_all_files(tmp_path, results, capsys):
    out = tmp_path / "site"
    assert run(["render", "--results", str(results), "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.rsplit("/", 1)[1] for p in printed) == [
        "index.html",
        "leaderboard-dcase2021.html",
        "leaderboard-dcase2021.json",
        "leaderboard-dcase2021.md",
        "leaderboard-dcase2022.html",
        "leaderboard-dcase2022.json",
        "leaderboard-dcase2022.md",
    ]
    single = tmp_path / "single"
    board_file = out / "leaderboard-dcase2022.json"
    assert run(["render", "--input", str(board_file), "--out", str(single), "--no-plots"]) == 0
    assert (single / "leaderboard-dcase2022.md").exists()
    assert not (single / "leaderboard-dcase2021.md").exists()


def test_schema_action(tmp_path, capsys):
    assert run(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    target = tmp_path / "leaderboard" / "schema.json"
    assert run(["schema", "--out", str(target)]) == 0
    assert target.read_text() == schema_text()


def test_through_the_cli_errors_are_one_line(results, monkeypatch, capsys):
    """Once ``leaderboard`` is in ``cli.COMMANDS``, bad files print one line and exit 2."""
    from ascbench import cli

    monkeypatch.setattr(cli, "COMMANDS", ("leaderboard", "submit"))
    assert cli.main(["leaderboard", "show", "--results", str(results)]) == 0
    path = results / "dcase2021" / "b" / "seed0.json"
    path.write_text("{")
    capsys.readouterr()
    assert cli.main(["leaderboard", "show", "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ascbench: error: {path}: not valid JSON")
    assert err.count("\n") == 1
    assert (
        cli.main(["submit", "--entry", str(path), "--label", "A_B_task1_1", "--out", str(results)])
        == 2
    )
    assert "not valid JSON" in capsys.readouterr().err
