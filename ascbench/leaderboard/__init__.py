"""The leaderboard: entries, the result store, merged and ranked boards, and their renderings.

- :mod:`.entry`: :class:`LeaderboardEntry` (one system, rule set and seed; content-hashed) and
  :func:`build_entry`; :func:`leaderboard_json_schema` / :func:`write_schema`.
- :mod:`.degeneracy`: when an entry's predictions show that its model learned nothing
  (status 'degenerate').
- :mod:`.provenance`: :func:`collect_provenance` for the machine a run is on.
- :mod:`.store`: :class:`ResultStore`, one atomically written JSON file per entry.
- :mod:`.board`: :class:`Leaderboard` per rule set, ranking, multi-seed aggregation, :func:`merge`.
- :mod:`.render`: terminal, Markdown and self-contained HTML; :func:`render_all` writes them all.
- :mod:`.plot`: the 2×2 Pareto plot (matplotlib, imported lazily).
"""

from ascbench.leaderboard.board import (
    BoardRow,
    Leaderboard,
    Stat,
    aggregate,
    build_leaderboard,
    group_by_ruleset,
    merge,
    read_board,
    write_merged,
)
from ascbench.leaderboard.entry import (
    SCHEMA_VERSION,
    Budget,
    ComplexitySummary,
    Compliance,
    DatasetInfo,
    FileRef,
    Hardware,
    Kernels,
    LeaderboardEntry,
    LeaderboardError,
    Metrics,
    PredictionStats,
    Provenance,
    RuleSetInfo,
    Score,
    Stage,
    SystemInfo,
    build_entry,
    leaderboard_json_schema,
    parse_entry,
    write_schema,
)
from ascbench.leaderboard.provenance import collect_provenance, utc_now
from ascbench.leaderboard.render import render_all, render_html, render_markdown, render_text
from ascbench.leaderboard.store import DEFAULT_RESULTS, ResultStore

__all__ = [
    "DEFAULT_RESULTS",
    "SCHEMA_VERSION",
    "BoardRow",
    "Budget",
    "Compliance",
    "ComplexitySummary",
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
