"""Counts in what ascbench prints agree with their nouns (issue 17: '1 systems, 1 entries')."""

from ascbench.leaderboard.board import group_by_ruleset
from ascbench.leaderboard.render import render_markdown, render_text
from ascbench.text import count
from tests.leaderboard.conftest import make_entry


def test_count_uses_singular_and_plural():
    assert [count(1, "entry"), count(2, "entry"), count(0, "system"), count(1, "epoch")] == [
        "1 entry", "2 entries", "0 systems", "1 epoch"
    ]  # fmt: skip
    assert count(1234, "clip") == "1,234 clips"


def test_a_board_of_one_entry_says_so():
    board = group_by_ruleset([make_entry().with_hash()])["dcase2021"]
    assert "1 system, 1 entry;" in render_text(board)
    assert "from 1 entry of 1 system." in render_markdown(board)
