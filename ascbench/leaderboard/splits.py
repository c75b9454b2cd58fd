"""The DCASE 2024 view across training splits: one column per split and their mean.

DCASE 2024 trains every system on nested subsets of the training set (5, 10, 25, 50 and 100 %)
and asks for one result per split. ``ascbench run --rules dcase2024 --split 5 --split 100``
stores each split under its own rule set ``dcase2024-split<N>`` (one board each); this module
puts them side by side. The ranking quantity is the mean over the splits of each split's mean
accuracy over seeds; the organisers' exact combination is unverified (notes: dcase-rules.md
§1), so every split's number is shown beside it. Only systems with an 'ok' result on every
split are ranked.
"""

from __future__ import annotations

import math
import re

from pydantic import BaseModel, ConfigDict, Field

from ascbench.leaderboard.board import Leaderboard

_SPLIT = re.compile(r"^(?P<base>.+)-split(?P<percent>5|10|25|50|100)$")


class SplitRow(BaseModel):
    """One system across the splits."""

    model_config = ConfigDict(extra="forbid")

    rank: int | None = Field(description="By mean accuracy; None unless 'ok' on every split.")
    system: str
    title: str
    accuracy: dict[str, float | None] = Field(
        description="Mean accuracy over seeds (percent) by split percent ('5', '10', ...); "
        "None where the split has no finished result."
    )
    status: dict[str, str] = Field(description="The row status on each split's board.")
    mean_accuracy: float | None = Field(description="Mean over the splits of 'accuracy'.")


class SplitBoard(BaseModel):
    """The systems of one rule set across its training splits."""

    model_config = ConfigDict(extra="forbid")

    ruleset: str
    splits: list[int]
    ranking: str
    rows: list[SplitRow]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def split_of(ruleset_name: str) -> tuple[str, int] | None:
    """``(base rule set, percent)`` of a split variant's name, e.g. 'dcase2024-split5'."""
    match = _SPLIT.match(ruleset_name)
    return (match["base"], int(match["percent"])) if match else None


def split_boards(boards: dict[str, Leaderboard]) -> dict[str, dict[int, Leaderboard]]:
    """The split boards among ``boards``, by base rule set and percent."""
    grouped: dict[str, dict[int, Leaderboard]] = {}
    for name, board in boards.items():
        parsed = split_of(name)
        if parsed is not None:
            grouped.setdefault(parsed[0], {})[parsed[1]] = board
    return grouped


def build_split_board(base: str, boards: dict[int, Leaderboard]) -> SplitBoard:
    """Rows per system over ``boards`` (one per split percent), ranked by mean accuracy."""
    splits = sorted(boards)
    systems: dict[str, dict[int, object]] = {}
    titles: dict[str, str] = {}
    for percent in splits:
        for row in boards[percent].rows:
            systems.setdefault(row.system, {})[percent] = row
            titles[row.system] = row.title
    rows = []
    for system, by_split in systems.items():
        accuracy = {
            str(p): (by_split[p].accuracy.mean if p in by_split and by_split[p].accuracy else None)
            for p in splits
        }
        status = {str(p): (by_split[p].status if p in by_split else "missing") for p in splits}
        values = [v for v in accuracy.values() if v is not None]
        complete = len(values) == len(splits) and all(s == "ok" for s in status.values())
        rows.append(
            SplitRow(
                rank=None, system=system, title=titles[system], accuracy=accuracy, status=status,
                mean_accuracy=math.fsum(values) / len(values) if complete else None,
            )  # fmt: skip
        )
    rows.sort(key=lambda r: (r.mean_accuracy is None, -(r.mean_accuracy or 0.0), r.system))
    ranked, previous, rank = [], None, 0
    for position, row in enumerate(rows, start=1):
        if row.mean_accuracy is not None and row.mean_accuracy != previous:
            rank, previous = position, row.mean_accuracy
        place = rank if row.mean_accuracy is not None else None
        ranked.append(row.model_copy(update={"rank": place}))
    return SplitBoard(
        ruleset=base,
        splits=splits,
        ranking="mean over the splits of each split's mean accuracy (seeds averaged); only "
        "systems with an 'ok' result on every split are ranked",
        rows=ranked,
    )


def render_split_text(board: SplitBoard, markdown: bool = False) -> str:
    """The board as a terminal table, or as a Markdown table."""
    header = ["#", "System", *[f"{p} %" for p in board.splits], "Mean"]
    lines = []
    for row in board.rows:
        cells = [
            str(row.rank) if row.rank is not None else "—",
            row.system,
            *[_cell(row.accuracy[str(p)], row.status[str(p)]) for p in board.splits],
            f"{row.mean_accuracy:.1f}" if row.mean_accuracy is not None else "—",
        ]
        lines.append(cells)
    title = f"{board.ruleset}: accuracy (%) by training split; ranked by the {board.ranking}"
    if markdown:
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        table += ["| " + " | ".join(cells) + " |" for cells in lines]
        return "\n".join([f"# {board.ruleset} by training split", "", title, "", *table]) + "\n"
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]
    out = [title, ""]
    for cells in [header, *lines]:
        out.append("  ".join(c.rjust(w) if i >= 2 else c.ljust(w) for i, (c, w) in
                             enumerate(zip(cells, widths, strict=True))).rstrip())  # fmt: skip
    return "\n".join(out) + "\n"


def _cell(value: float | None, status: str) -> str:
    if value is None:
        return status
    return f"{value:.1f}" + ("" if status == "ok" else f" ({status})")
