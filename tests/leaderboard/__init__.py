"""Tests of the leaderboard: entries, store, boards, rendering and commands."""
