"""``ascbench leaderboard publish``: strict verification, the published files, determinism."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ascbench import cli
from ascbench.leaderboard import ResultStore, read_board
from ascbench.leaderboard.publish import (
    INDEX_FILE,
    PublishRefused,
    build_boards,
    page_files,
    publish,
)
from ascbench.leaderboard.schema import leaderboard_json_schema, schema_text


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by relative path, with its bytes."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def expected_names(*rulesets: str, plots: bool = True) -> set[str]:
    names = {"schema.json", INDEX_FILE}
    for rs in rulesets:
        kinds = page_files(rs)
        names |= {kinds[k] for k in ("json", "md", "html")}
        if plots:
            names |= {kinds["png"], kinds["svg"]}
    return names


@pytest.fixture
def results(tmp_path, make_entry) -> Path:
    """Two rule sets; dcase2021 holds a ranked, a two-seed, a noncompliant and a failed system."""
    store = ResultStore(tmp_path / "results")
    store.write(make_entry("a", log_loss=0.9))
    store.write(make_entry("a", seed=1, log_loss=0.95, finished_after=7200))
    store.write(make_entry("b", log_loss=0.8))
    store.write(make_entry("big", parameters=200_000, log_loss=0.5))
    store.write(make_entry("dead", error="CUDA out of memory"))
    store.write(make_entry("x", "dcase2022", log_loss=1.1))
    return store.root


def cli_publish(*argv: str | Path) -> int:
    return cli.main(["leaderboard", "publish", *map(str, argv)])


def tamper(path: Path) -> None:
    """Change a metric without re-hashing, as a hand edit would."""
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 99.0
    path.write_text(json.dumps(data, indent=2))


# -- the published files ------------------------------------------------------------------------


def test_publish_writes_every_file_and_they_reparse(tmp_path, results):
    out = tmp_path / "leaderboard"
    done = publish([results], out, plots=False)
    assert {p.name for p in done.written} == expected_names("dcase2021", "dcase2022", plots=False)
    assert snapshot(out).keys() == expected_names("dcase2021", "dcase2022", plots=False)
    assert (out / "schema.json").read_text() == schema_text()

    board = read_board(out / "dcase2021.json")  # pydantic re-parse, every entry hash verified
    assert board == done.boards["dcase2021"]
    assert len(board.entries) == 5
    # failed and noncompliant entries are results too: published with their status
    rows = {r.system: r for r in board.rows}
    assert (rows["b"].rank, rows["a"].rank) == (1, 2)
    assert rows["big"].status == "noncompliant" and rows["big"].rank is None
    assert rows["dead"].status == "failed" and rows["dead"].reasons == ["CUDA out of memory"]
    markdown = (out / "dcase2021.md").read_text()
    assert "| **noncompliant** |" in markdown and "| **failed** |" in markdown
    assert "CUDA out of memory" in markdown
    # the date shown is the latest finished entry, not the time of publishing
    assert board.generated_at == max(e.provenance.finished for e in board.entries)
    assert "Generated 2024-05-01 14:00:00 UTC" in markdown
    index = (out / INDEX_FILE).read_text()
    assert 'href="dcase2021.html"' in index and 'href="dcase2022.html"' in index


def test_published_boards_validate_against_the_json_schema(tmp_path, results):
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "leaderboard"
    publish([results], out, plots=False)
    schema = json.loads((out / "schema.json").read_text())
    assert schema == leaderboard_json_schema()
    for name in ("dcase2021", "dcase2022"):
        jsonschema.validate(json.loads((out / f"{name}.json").read_text()), schema)
    bad = json.loads((out / "dcase2022.json").read_text())
    bad["entries"][0]["status"] = "great"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_publishing_is_deterministic_and_rereads(tmp_path, results, capsys):
    """Same inputs, same bytes (plots included); the published JSON reproduces the directory."""
    first, second, again = tmp_path / "first", tmp_path / "second", tmp_path / "again"
    assert cli_publish(results, "--out", first, "--rules", "dcase2022") == 0
    printed = capsys.readouterr().out
    assert str(first / "pareto-dcase2022.png") in printed
    assert "published dcase2022: 1 entry of 1 system (1 ok)" in printed
    assert snapshot(first).keys() == expected_names("dcase2022")
    assert (first / "pareto-dcase2022.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (first / "pareto-dcase2022.svg").read_text()
    assert "<svg" in (first / "dcase2022.html").read_text()  # the plot, inline

    assert cli_publish(results, "--out", second, "--rules", "dcase2022") == 0
    assert snapshot(second) == snapshot(first)
    # the published JSON files (schema.json among them, as a shell glob gives it) re-publish
    assert cli_publish(*sorted(first.glob("*.json")), "--out", again) == 0
    assert snapshot(again) == snapshot(first)
    # and so does the directory itself, into itself
    assert cli_publish(first, "--out", first) == 0
    assert snapshot(first) == snapshot(second)
    capsys.readouterr()
    # `show` reads a published board file and a published directory
    assert cli.main(["leaderboard", "show", str(first / "dcase2022.json")]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("dcase2022: DCASE 2022 Task 1") and "\n1  x " in shown
    assert cli.main(["leaderboard", "show", str(first)]) == 0
    assert capsys.readouterr().out == shown


def test_rules_publishes_one_board_and_keeps_the_others(tmp_path, results, make_entry, capsys):
    out = tmp_path / "leaderboard"
    publish([results], out, plots=False)
    before = snapshot(out)
    newer = ResultStore(tmp_path / "newer")
    newer.write(make_entry("y", "dcase2022", log_loss=0.7))
    done = publish([results, newer.root], out, rules="dcase2022", plots=False)
    assert list(done.boards) == ["dcase2022"] and done.kept == [out / "dcase2021.json"]
    after = snapshot(out)
    for name in ("dcase2021.json", "dcase2021.md", "dcase2021.html"):
        assert after[name] == before[name]
    assert [r.system for r in read_board(out / "dcase2022.json").rows] == ["y", "x"]
    index = after[INDEX_FILE].decode()
    assert 'href="dcase2021.html"' in index and "(2 systems)" in index

    assert cli_publish(results, "--out", out, "--rules", "dcase2099") == 2
    assert "no results for rule set 'dcase2099'" in capsys.readouterr().err


# -- refusals -----------------------------------------------------------------------------------


def refused(capsys, *argv: str | Path) -> list[str]:
    """Run publish, expect exit status 1, return the stderr lines."""
    assert cli_publish(*argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_tampered_entry_is_refused_and_nothing_changes(tmp_path, results, capsys):
    out = tmp_path / "leaderboard"
    publish([results], out, plots=False)
    before = snapshot(out)
    path = results / "dcase2021" / "b" / "seed0.json"
    tamper(path)
    lines = refused(capsys, results, "--out", out)
    assert lines[0].startswith(f"ascbench: error: {path}: content does not match entry_hash")
    assert "re-run the system" in lines[0]
    assert lines[-1] == (
        f"ascbench: error: publish refused (1 problem); nothing in {out} was changed"
    )
    assert snapshot(out) == before
    # a first publish that is refused creates nothing at all
    assert refused(capsys, results, "--out", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_every_bad_file_is_named_on_its_own_line(tmp_path, results, capsys):
    malformed = results / "dcase2021" / "a" / "seed0.json"
    malformed.write_text('{"system": ')
    hashless = results / "dcase2021" / "b" / "seed0.json"
    data = json.loads(hashless.read_text())
    del data["entry_hash"]
    hashless.write_text(json.dumps(data))
    invalid = results / "dcase2022" / "x" / "seed0.json"
    data = json.loads(invalid.read_text())
    data["seed"] = -1
    invalid.write_text(json.dumps(data))
    lines = refused(capsys, results, tmp_path / "missing", "--out", tmp_path / "out")
    assert len(lines) == 5
    assert lines[0].startswith(f"ascbench: error: {malformed}: not valid JSON")
    assert lines[1].startswith(f"ascbench: error: {hashless}: entry has no entry_hash")
    assert lines[2].startswith(f"ascbench: error: {invalid}: not a valid leaderboard entry")
    assert lines[3].startswith(f"ascbench: error: {tmp_path / 'missing'}: no such file")
    assert lines[4].startswith("ascbench: error: publish refused (4 problems)")
    assert not (tmp_path / "out").exists()


def test_a_loose_entry_file_is_verified_too(tmp_path, results):
    loose = tmp_path / "from-another-machine.json"
    shutil.copy(results / "dcase2022" / "x" / "seed0.json", loose)
    assert publish([loose], tmp_path / "ok", plots=False).boards["dcase2022"].entries
    tamper(loose)
    with pytest.raises(PublishRefused) as info:
        publish([loose], tmp_path / "out", plots=False)
    assert info.value.problems == [
        p for p in info.value.problems if p.startswith(f"{loose}: content does not match")
    ]
    assert len(info.value.problems) == 1 and not (tmp_path / "out").exists()


def test_tampered_entry_inside_a_board_file_is_named(tmp_path, results):
    out = tmp_path / "leaderboard"
    publish([results], out, plots=False)
    board_file = out / "dcase2021.json"
    data = json.loads(board_file.read_text())
    data["entries"][2]["metrics"]["log_loss"] = 0.01  # b's entry, not re-hashed
    board_file.write_text(json.dumps(data))
    with pytest.raises(PublishRefused) as info:
        publish([board_file], tmp_path / "again", plots=False)
    (problem,) = info.value.problems
    assert problem.startswith(f"{board_file} (entry 2: b, seed 0): content does not match")
    # hand-edited rows (entries intact) are refused too
    data = json.loads((out / "dcase2022.json").read_text())
    data["rows"][0]["rank"] = 7
    (out / "dcase2022.json").write_text(json.dumps(data))
    with pytest.raises(PublishRefused, match="rows do not match the entries"):
        publish([out / "dcase2022.json"], tmp_path / "again", plots=False)


def test_conflicting_duplicates_are_refused_identical_ones_collapse(
    tmp_path, results, make_entry, capsys
):
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    done = publish([results, copy], tmp_path / "same", plots=False)
    assert len(done.boards["dcase2021"].entries) == 5

    other = ResultStore(tmp_path / "other")
    other.write(make_entry("b", log_loss=0.7))
    lines = refused(capsys, results, other.root, "--out", tmp_path / "out")
    first, second = results / "dcase2021/b/seed0.json", other.root / "dcase2021/b/seed0.json"
    assert lines[0].startswith(
        f"ascbench: error: conflicting results for b under dcase2021, seed 0: {first} (hash "
    )
    assert f"and {second} (hash " in lines[0] and "drop the other input" in lines[0]
    assert len(lines) == 2


def test_one_ruleset_with_two_definitions_is_refused(tmp_path, make_entry):
    entry = make_entry("c")
    changed = entry.ruleset.model_copy(update={"title": "DCASE 2021, edited"})
    moved = entry.model_copy(update={"ruleset": changed}).with_hash()
    ResultStore(tmp_path / "one").write(make_entry("a"))
    ResultStore(tmp_path / "two").write(moved)
    with pytest.raises(PublishRefused) as info:
        publish([tmp_path / "one", tmp_path / "two"], tmp_path / "out", plots=False)
    (problem,) = info.value.problems
    assert problem.startswith("rule set 'dcase2021' has different definitions")
    assert str(tmp_path / "one" / "dcase2021" / "a" / "seed0.json") in problem


def test_reserved_ruleset_names_are_refused(make_entry):
    entry = make_entry("a")
    renamed = entry.model_copy(
        update={"ruleset": entry.ruleset.model_copy(update={"name": "index"})}
    ).with_hash()
    with pytest.raises(PublishRefused, match="rule set 'index' cannot be published"):
        build_boards([renamed])


def test_skip_invalid_leaves_bad_files_out(tmp_path, results, make_entry, capsys):
    path = results / "dcase2021" / "big" / "seed0.json"
    tamper(path)
    out = tmp_path / "out"
    assert cli_publish(results, "--out", out, "--skip-invalid", "--rules", "dcase2021") == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"ascbench: warning: skipped {path}: content does not match")
    assert "big" not in {r.system for r in read_board(out / "dcase2021.json").rows}
    other = ResultStore(tmp_path / "other")
    other.write(make_entry("b", log_loss=0.7))
    lines = refused(capsys, results, other.root, "--out", out, "--skip-invalid")
    assert "conflicting results for b" in lines[0]
