"""Boards: ranking, multi-seed aggregation, merging, duplicates, board files."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timezone

import pytest

from ascbench.leaderboard import (
    LeaderboardError,
    ResultStore,
    aggregate,
    build_leaderboard,
    group_by_ruleset,
    merge,
    read_board,
    write_merged,
)
from ascbench.leaderboard.board import dedupe
from ascbench.leaderboard.entry import RuleSetInfo

WHEN = datetime(2024, 6, 1, tzinfo=timezone.utc)


def test_ranking_by_log_loss_with_accuracy_tie_break(make_entry):
    board = build_leaderboard(
        [
            make_entry("c", log_loss=0.9, accuracy=60.0),
            make_entry("a", log_loss=0.8, accuracy=50.0),
            make_entry("b", log_loss=0.9, accuracy=65.0),
            make_entry("d", log_loss=0.9, accuracy=65.0),
            make_entry("big", log_loss=0.1, accuracy=99.0, parameters=90_000),
            make_entry("dead", error="crashed"),
        ],
        WHEN,
    )
    order = [(r.rank, r.system, r.status) for r in board.rows]
    assert order == [
        (1, "a", "ok"),
        (2, "b", "ok"),
        (2, "d", "ok"),  # exact tie shares the rank
        (4, "c", "ok"),
        (None, "big", "noncompliant"),
        (None, "dead", "failed"),
    ]


def test_accuracy_primary_metric_ranks_by_accuracy(make_entry):
    entries = [
        make_entry("a", log_loss=0.5, accuracy=50.0),
        make_entry("b", log_loss=1.0, accuracy=70.0),
    ]
    info = entries[0].ruleset.model_copy(update={"primary_metric": "accuracy"})
    entries = [e.model_copy(update={"ruleset": info}).with_hash() for e in entries]
    board = build_leaderboard(entries, WHEN)
    assert [r.system for r in board.rows] == ["b", "a"]


def test_several_seeds_give_mean_and_std(make_entry):
    losses = [0.80, 0.90, 1.00]
    entries = [make_entry("a", seed=s, log_loss=v, accuracy=60 + s) for s, v in enumerate(losses)]
    entries.append(make_entry("a", seed=7, error="out of memory"))
    entries.append(make_entry("b", log_loss=0.85))
    board = build_leaderboard(entries, WHEN)
    row = next(r for r in board.rows if r.system == "a")
    assert row.seeds == [0, 1, 2, 7]
    assert row.failed_seeds == [7]
    assert row.status == "ok"
    assert row.log_loss.n == 3
    assert row.log_loss.mean == pytest.approx(0.9)
    assert row.log_loss.std == pytest.approx(statistics.stdev(losses))
    assert row.accuracy.format(1) == "61.0 ± 1.0"
    assert [r.system for r in board.rows] == ["b", "a"]  # 0.85 < mean 0.9
    single = next(r for r in board.rows if r.system == "b")
    assert single.log_loss.std is None and single.log_loss.format(3) == "0.850"


def test_aggregate():
    assert aggregate([2.0]).std is None
    stat = aggregate([1.0, 2.0, 3.0])
    assert (stat.mean, stat.std, stat.n) == (2.0, 1.0, 3)
    with pytest.raises(ValueError):
        aggregate([])


def test_seed_varying_complexity_is_flagged(make_entry):
    board = build_leaderboard(
        [make_entry("a", seed=0, parameters=20_000), make_entry("a", seed=1, parameters=21_000)],
        WHEN,
    )
    assert board.rows[0].complexity_varies
    assert board.rows[0].parameters == 21_000


def test_board_file_roundtrip_and_row_tampering(tmp_path, make_entry):
    board = build_leaderboard([make_entry("a"), make_entry("b", log_loss=0.7)], WHEN)
    path = board.write(tmp_path / "leaderboard-dcase2021.json")
    again = read_board(path)
    assert again == board
    data = json.loads(path.read_text())
    data["rows"][0]["rank"] = 2
    path.write_text(json.dumps(data))
    with pytest.raises(LeaderboardError, match="rows do not match the entries"):
        read_board(path)
    data = json.loads(board.to_json())
    data["entries"][1]["metrics"]["log_loss"] = 0.1
    path.write_text(json.dumps(data))
    with pytest.raises(LeaderboardError, match=r"\(entry 1\): content does not match entry_hash"):
        read_board(path)


def test_merge_two_result_dirs(tmp_path, make_entry):
    one, two = ResultStore(tmp_path / "one"), ResultStore(tmp_path / "two")
    one.write(make_entry("a", log_loss=0.9))
    one.write(make_entry("x", "dcase2022", log_loss=1.2))
    two.write(make_entry("b", log_loss=0.8))
    two.write(make_entry("a", seed=1, log_loss=1.0))
    boards = merge([one.root, two.root], generated_at=WHEN)
    assert list(boards) == ["dcase2021", "dcase2022"]
    rows = boards["dcase2021"].rows
    assert [(r.system, r.seeds) for r in rows] == [("b", [0]), ("a", [0, 1])]
    assert [r.system for r in boards["dcase2022"].rows] == ["x"]

    out = tmp_path / "merged"
    write_merged(boards, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == [
        "dcase2021/a/seed0.json",
        "dcase2021/a/seed1.json",
        "dcase2021/b/seed0.json",
        "dcase2022/x/seed0.json",
        "leaderboard-dcase2021.json",
        "leaderboard-dcase2022.json",
    ]
    # the merged directory (store + board files) merges again to the same boards
    assert merge([out], generated_at=WHEN) == boards
    # and a board file alone is a valid input
    assert (
        merge([out / "leaderboard-dcase2022.json"], generated_at=WHEN)["dcase2022"]
        == (boards["dcase2022"])
    )


def test_identical_duplicates_collapse(tmp_path, make_entry):
    e = make_entry("a")
    ResultStore(tmp_path / "one").write(e)
    ResultStore(tmp_path / "two").write(e)
    board = merge([tmp_path / "one", tmp_path / "two"], generated_at=WHEN)["dcase2021"]
    assert board.entries == [e]


def test_conflicting_duplicates_are_refused_with_a_clear_message(tmp_path, make_entry):
    ResultStore(tmp_path / "one").write(make_entry("a", log_loss=0.9))
    ResultStore(tmp_path / "two").write(make_entry("a", log_loss=0.7))
    with pytest.raises(LeaderboardError) as info:
        merge([tmp_path / "one", tmp_path / "two"])
    message = str(info.value)
    assert "conflicting results for a under dcase2021, seed 0" in message
    assert str(tmp_path / "one") in message and str(tmp_path / "two") in message
    assert "--prefer-newest" in message


def test_prefer_newest_is_independent_of_input_order(make_entry):
    old = make_entry("a", log_loss=0.9, finished_after=100)
    new = make_entry("a", log_loss=0.7, finished_after=200)
    same_time = make_entry("a", log_loss=0.8, finished_after=200)
    for order in ([old, new, same_time], [same_time, new, old], [new, old, same_time]):
        kept = dedupe([(e, "x") for e in order], prefer="newest")
        expected = max([new, same_time], key=lambda e: e.entry_hash)
        assert kept == [expected]


def test_different_definitions_of_one_ruleset_are_refused(make_entry):
    a = make_entry("a")
    changed: RuleSetInfo = a.ruleset.model_copy(update={"kilobyte": 1024})
    b = make_entry("b").model_copy(update={"ruleset": changed}).with_hash()
    with pytest.raises(LeaderboardError, match="different definitions of it"):
        group_by_ruleset([a, b])


def test_merge_lenient_mode_skips_bad_files(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    store.write(make_entry("a"))
    bad = store.write(make_entry("b"))
    bad.write_text("not json")
    with pytest.raises(LeaderboardError, match="not valid JSON"):
        merge([tmp_path])
    errors: list[str] = []
    boards = merge([tmp_path, tmp_path / "missing.json"], errors=errors)
    assert [r.system for r in boards["dcase2021"].rows] == ["a"]
    assert len(errors) == 2 and "missing.json" in errors[1]


def test_a_stale_board_next_to_a_store_is_ignored(tmp_path, make_entry):
    store = ResultStore(tmp_path)
    store.write(make_entry("a", log_loss=0.9))
    boards = merge([tmp_path], generated_at=WHEN)
    write_merged(boards, tmp_path)  # leaderboard-dcase2021.json now sits beside the store
    store.write(make_entry("a", log_loss=0.7), overwrite=True)  # a re-run replaces the entry
    board = merge([tmp_path], generated_at=WHEN)["dcase2021"]
    assert board.rows[0].log_loss.mean == 0.7
    # a directory holding only boards is read through them
    only_boards = tmp_path / "published"
    write_merged(boards, tmp_path / "tmp")
    only_boards.mkdir()
    (only_boards / "leaderboard-dcase2021.json").write_bytes(
        (tmp_path / "tmp" / "leaderboard-dcase2021.json").read_bytes()
    )
    assert merge([only_boards], generated_at=WHEN)["dcase2021"].rows[0].log_loss.mean == 0.9
