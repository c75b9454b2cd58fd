"""The leaderboard: entries, the result store, merged and ranked boards, and their renderings.

The modules are layered one way; each imports only those listed before it:

- :mod:`._io`, :mod:`.defaults`, :mod:`.degeneracy`: atomic writes, default paths, and when an
  entry's predictions show that its model learned nothing (status 'degenerate').
- :mod:`.entry`: :class:`LeaderboardEntry` (one system, rule set and seed; content-hashed) and
  :func:`build_entry`.
- :mod:`.provenance`: :func:`collect_provenance` for the machine a run is on.
- :mod:`.store`: :class:`ResultStore`, one atomically written JSON file per entry.
- :mod:`.board`: :class:`Leaderboard` per rule set, ranking, multi-seed aggregation, :func:`merge`.
- :mod:`.schema`: :func:`leaderboard_json_schema` / :func:`write_schema` (entries and boards).
- :mod:`.render`: terminal, Markdown and self-contained HTML; :func:`render_all` writes them all.
- :mod:`.plot`: the 2×2 Pareto plot (matplotlib, imported lazily).
- :mod:`.publish`: the verified, canonical ``leaderboard/`` directory.

The names below are imported on first use (``from ascbench.leaderboard import ResultStore``),
so that importing one light module of the package (:mod:`.defaults`) does not load pydantic.
"""

from __future__ import annotations

from ascbench.lazy import lazy_getattr

_LAZY = {
    "BoardRow": "ascbench.leaderboard.board",
    "Leaderboard": "ascbench.leaderboard.board",
    "Stat": "ascbench.leaderboard.board",
    "aggregate": "ascbench.leaderboard.board",
    "build_leaderboard": "ascbench.leaderboard.board",
    "group_by_ruleset": "ascbench.leaderboard.board",
    "merge": "ascbench.leaderboard.board",
    "read_board": "ascbench.leaderboard.board",
    "write_merged": "ascbench.leaderboard.board",
    "SCHEMA_VERSION": "ascbench.leaderboard.entry",
    "Budget": "ascbench.leaderboard.entry",
    "ComplexitySummary": "ascbench.leaderboard.entry",
    "Compliance": "ascbench.leaderboard.entry",
    "DatasetInfo": "ascbench.leaderboard.entry",
    "FileRef": "ascbench.leaderboard.entry",
    "Hardware": "ascbench.leaderboard.entry",
    "Kernels": "ascbench.leaderboard.entry",
    "LeaderboardEntry": "ascbench.leaderboard.entry",
    "LeaderboardError": "ascbench.leaderboard.entry",
    "Metrics": "ascbench.leaderboard.entry",
    "PredictionStats": "ascbench.leaderboard.entry",
    "Provenance": "ascbench.leaderboard.entry",
    "RuleSetInfo": "ascbench.leaderboard.entry",
    "Score": "ascbench.leaderboard.entry",
    "Stage": "ascbench.leaderboard.entry",
    "SystemInfo": "ascbench.leaderboard.entry",
    "build_entry": "ascbench.leaderboard.entry",
    "parse_entry": "ascbench.leaderboard.entry",
    "utc_now": "ascbench.leaderboard.entry",
    "collect_provenance": "ascbench.leaderboard.provenance",
    "render_all": "ascbench.leaderboard.render",
    "render_html": "ascbench.leaderboard.render",
    "render_markdown": "ascbench.leaderboard.render",
    "render_text": "ascbench.leaderboard.render",
    "leaderboard_json_schema": "ascbench.leaderboard.schema",
    "write_schema": "ascbench.leaderboard.schema",
    "DEFAULT_RESULTS": "ascbench.leaderboard.defaults",
    "ResultStore": "ascbench.leaderboard.store",
}


__getattr__ = lazy_getattr(__name__, _LAZY, cache=globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_RESULTS",
    "SCHEMA_VERSION",
    "BoardRow",
    "Budget",
    "ComplexitySummary",
    "Compliance",
    "DatasetInfo",
    "FileRef",
    "Hardware",
    "Kernels",
    "Leaderboard",
    "LeaderboardEntry",
    "LeaderboardError",
    "Metrics",
    "PredictionStats",
    "Provenance",
    "ResultStore",
    "RuleSetInfo",
    "Score",
    "Stage",
    "Stat",
    "SystemInfo",
    "aggregate",
    "build_entry",
    "build_leaderboard",
    "collect_provenance",
    "group_by_ruleset",
    "leaderboard_json_schema",
    "merge",
    "parse_entry",
    "read_board",
    "render_all",
    "render_html",
    "render_markdown",
    "render_text",
    "utc_now",
    "write_merged",
    "write_schema",
]
