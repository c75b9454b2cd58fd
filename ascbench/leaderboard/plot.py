"""The Pareto plot of a leaderboard: accuracy and log loss against bytes and against MACs.

Four panels (rows: accuracy, log loss; columns: bytes, MACs). The rule set's limits are drawn
as dashed lines (with the 'ambiguous' margin shaded), the Pareto front of the finished systems
is highlighted, every point is labelled with its system (or, where the name would overlap
another label or point, with its row number on the board, listed in a key under the legend;
labels carry the gid ``label-<system>``), and noncompliant, ambiguous,
degenerate and failed systems are marked differently (failed ones, which have no metrics, as
crosses along the bottom edge at their measured size). Degenerate systems (their predictions
show that they learned nothing) are purple triangles, hollow when also noncompliant, never on
the Pareto front; when there are any, the legend has an entry for them and their reasons are
printed under it. Several seeds show as mean with a ±std error bar. Every point's scatter
artist has the gid ``point-<kind>-<system>`` (kinds are the keys of :data:`STYLES`), the ring
of a point on the Pareto front ``front-<system>``.

matplotlib is imported lazily and drawn on an Agg canvas without pyplot, so importing this
module costs nothing and no global matplotlib state changes.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascbench.leaderboard._io import atomic_write_bytes
from ascbench.leaderboard.board import BoardRow, Leaderboard

#: Marker style per kind of point.
STYLES: dict[str, dict[str, Any]] = {
    "pass": dict(marker="o", color="#1f77b4", label="compliant"),
    "ambiguous": dict(marker="D", color="#e08a00", label="ambiguous (limit reading)"),
    "noncompliant": dict(marker="s", color="#c62828", label="noncompliant", hollow=True),
    "degenerate": dict(marker="v", color="#6a1b9a", label="degenerate (learned nothing)"),
    "failed": dict(marker="x", color="#c62828", label="failed (no metrics)"),
}
#: At most this many degenerate systems have their reasons printed under the plot.
MAX_REASON_LINES = 8


def pareto_front(points: Sequence[tuple[float, float]], maximize: bool) -> list[int]:
    """Indices of the non-dominated points, lower x being better and y maximised/minimised.

    A point is dominated when another is at least as good on both axes and better on one.
    Returned in increasing x.
    """

    def better_or_equal(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] <= b[0] and (a[1] >= b[1] if maximize else a[1] <= b[1])

    front = []
    for i, p in enumerate(points):
        dominated = any(j != i and better_or_equal(q, p) and q != p for j, q in enumerate(points))
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (points[i][0], -points[i][1] if maximize else points[i][1]))


def si_label(value: float, _pos: Any = None) -> str:
    """Tick label with a k/M/G suffix: 128000 -> '128k', 30000000 -> '30M'."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.4g}{suffix}"
    return f"{value:.4g}"


#: Label positions tried around a point: (dx, dy) in points, horizontal and vertical alignment.
_LABEL_SPOTS = [
    (6, 3, "left", "bottom"),
    (6, -3, "left", "top"),
    (-6, 3, "right", "bottom"),
    (-6, -3, "right", "top"),
    (0, 9, "center", "bottom"),
    (0, -9, "center", "top"),
    (6, 12, "left", "bottom"),
    (6, -12, "left", "top"),
]
#: Further positions for a point's number when the near ones are taken (drawn with a leader
#: line): rings of 8 directions at 16, 26 and 36 points.
_DIRECTIONS = [(1, 0), (0.7, 0.7), (0, 1), (-0.7, 0.7), (-1, 0), (-0.7, -0.7), (0, -1), (0.7, -0.7)]
_FAR_SPOTS = [
    (round(r * dx), round(r * dy), "center", "center")
    for r in (16, 26, 36)
    for dx, dy in _DIRECTIONS
]
#: A label's gid is this prefix and its system (the name or the number of one point).
LABEL_GID = "label-"

Box = tuple[float, float, float, float]


def _label_box(px: float, py: float, width: float, height: float, spot: tuple) -> Box:
    dx, dy, ha, va = spot
    left = {"left": px + dx, "right": px + dx - width, "center": px + dx - width / 2}[ha]
    bottom = {"bottom": py + dy, "top": py + dy - height, "center": py + dy - height / 2}[va]
    return (left, bottom, left + width, bottom + height)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _text_size(ax: Any, text: str, fontsize: float) -> tuple[float, float]:
    """(width, height) of ``text`` in points, measured by the figure's renderer."""
    from matplotlib.font_manager import FontProperties

    renderer = ax.figure.canvas.get_renderer()
    font = FontProperties(size=fontsize)
    width, height, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
    # matplotlib lays a line out at least as tall as "lp" (ascender and descender)
    height = max(height, renderer.get_text_width_height_descent("lp", font, ismath=False)[1])
    to_points = 72.0 / ax.figure.dpi
    return width * to_points + 1, height * to_points + 1


def _obstacles(ax: Any) -> list[Box]:
    """The boxes (in points) of the texts already in ``ax``: failed systems' names, notes."""
    renderer = ax.figure.canvas.get_renderer()
    to_points = 72.0 / ax.figure.dpi
    boxes = []
    for text in ax.texts:
        if text.get_text():
            e = text.get_window_extent(renderer)
            boxes.append((e.x0 * to_points, e.y0 * to_points, e.x1 * to_points, e.y1 * to_points))
    return boxes


def place_labels(
    ax: Any,
    xs: Sequence[float],
    ys: Sequence[float],
    names: Sequence[str],
    ids: Sequence[str] | None = None,
    numbers: Sequence[int] | None = None,
    numbered: frozenset[int] | set[int] = frozenset(),
    fontsize: float = 7,
) -> set[int]:
    """Label each point with its name where the name overlaps no other label, marker or text
    and stays inside the axes; otherwise with its number (``numbers[k]``), placed where it
    overlaps the least (further out, with a leader line, when the near places are taken).
    Points whose index is in ``numbered`` get their number directly. Returns the indexes of
    the points labelled by number: the caller lists them in a key. Greedy, in points, on the
    axes' final geometry (call it after the figure's layout)."""
    to_points = 72.0 / ax.figure.dpi
    pts = [
        (float(px) * to_points, float(py) * to_points)
        for px, py in (ax.transData.transform((x, y)) for x, y in zip(xs, ys, strict=True))
    ]
    frame: Box = tuple(v * to_points for v in ax.bbox.extents)  # type: ignore[assignment]
    placed = _obstacles(ax)
    used_numbers: set[int] = set()

    def cost(b: Box, k: int) -> float:
        # a point of clearance: the renderer's box of a top-aligned text reaches a little
        # further than its measured height
        b = (b[0] - 1, b[1] - 1, b[2] + 1, b[3] + 1)
        labels = sum(_overlaps(b, o) for o in placed)
        markers = sum(
            _overlaps(b, (qx - 5, qy - 5, qx + 5, qy + 5))
            for j, (qx, qy) in enumerate(pts)
            if j != k
        )
        inside = b[0] >= frame[0] and b[2] <= frame[2] and b[1] >= frame[1] and b[3] <= frame[3]
        return 10 * labels + markers + (0 if inside else 3)

    def fit(k: int, text: str, spots: list) -> tuple[tuple, float, float]:
        """The least costly spot for ``text`` beside point ``k``, and the text's size."""
        width, height = _text_size(ax, text, fontsize)
        spot = min(spots, key=lambda s: cost(_label_box(*pts[k], width, height, s), k))
        return spot, width, height

    for k in sorted(range(len(pts)), key=lambda i: (pts[i][0], -pts[i][1])):
        px, py = pts[k]
        by_number = numbers is not None and k in numbered
        if not by_number:
            best, width, height = fit(k, names[k], _LABEL_SPOTS)
            # the name does not fit: its number does, further out if need be
            by_number = numbers is not None and cost(_label_box(px, py, width, height, best), k) > 0
        if by_number:
            text = str(numbers[k])  # type: ignore[index]
            best, width, height = fit(k, text, _LABEL_SPOTS + _FAR_SPOTS)
            used_numbers.add(k)
        else:
            text = names[k]
        placed.append(_label_box(px, py, width, height, best))
        dx, dy, ha, va = best
        far = best in _FAR_SPOTS
        ax.annotate(
            text,
            (xs[k], ys[k]),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            zorder=5,
            gid=f"{LABEL_GID}{(ids or names)[k]}",
            arrowprops=dict(arrowstyle="-", color="#999", linewidth=0.6, shrinkA=0, shrinkB=4)
            if far
            else None,
        )
    return used_numbers


def _padded(lo: float, hi: float, log: bool, pad: float = 0.12) -> tuple[float, float]:
    """An axis range around [lo, hi] with ``pad`` of its span (in log space if ``log``)."""
    if log:
        a, b = math.log10(lo), math.log10(hi)
        span = (b - a) or 1.0
        return 10 ** (a - pad * span), 10 ** (b + pad * span)
    span = (hi - lo) or (abs(hi) or 1.0)
    return lo - pad * span, hi + pad * span


def _kind(row: BoardRow) -> str:
    if row.status == "failed":
        return "failed"
    if row.degenerate:
        return "degenerate"
    if row.status == "noncompliant":
        return "noncompliant"
    return "ambiguous" if row.compliance == "ambiguous" else "pass"


def degenerate_lines(board: Leaderboard, width: int = 190) -> list[str]:
    """The text printed under the plot: every degenerate system with its reasons (wrapped at
    ``width`` characters; at most :data:`MAX_REASON_LINES` systems)."""
    rows = [r for r in board.rows if r.degenerate]
    if not rows:
        return []
    lines = ["degenerate (learned nothing):"]
    for row in rows[:MAX_REASON_LINES]:
        lines += textwrap.wrap(
            f"{row.system}: {'; '.join(row.degenerate)}", width, subsequent_indent="    "
        )
    if len(rows) > MAX_REASON_LINES:
        lines.append(f"… and {len(rows) - MAX_REASON_LINES} more (see the board's notes)")
    return lines


def _limit_lines(board: Leaderboard, axis: str) -> list[tuple[float, float | None, str]]:
    """(x, ambiguous_up_to, label) of the limits that can be drawn on the ``axis`` quantity.

    A limit on (non-zero) parameters is drawn on the bytes axis when every measured system
    stores the same number of bytes per (non-zero) parameter, e.g. 1 B each under DCASE 2022.
    """
    lines = []
    for lim in board.ruleset.limits:
        amb = lim.ambiguous_up_to
        if lim.quantity == axis:
            unit = " B" if axis == "bytes" else " MACs"
            lines.append((float(lim.maximum), amb, f"limit {lim.maximum:,}{unit}"))
        elif axis == "bytes" and lim.quantity in ("parameters", "nonzero_parameters"):
            ratios = {
                e.complexity.bytes / getattr(e.complexity, lim.quantity)
                for e in board.entries
                if e.complexity and getattr(e.complexity, lim.quantity)
            }
            if len(ratios) == 1:
                r = ratios.pop()
                what = "params" if lim.quantity == "parameters" else "non-zero params"
                lines.append(
                    (
                        lim.maximum * r,
                        amb * r if amb else None,
                        f"limit {lim.maximum:,} {what} (= {lim.maximum * r:,.0f} B)",
                    )
                )
    return lines


#: The panels' rows: (metric, axis label, whether higher is better).
_METRICS = [("accuracy", "accuracy (%)", True), ("log_loss", "log loss", False)]
#: The panels' columns: (quantity, axis label).
_XAXES = [("bytes", "model size (bytes)"), ("macs", "MACs per inference")]


@dataclass
class _Panel:
    """What one panel shows: the finished systems measured on its quantity, as points."""

    quantity: str
    rows: list[BoardRow]
    xs: list[float]
    ys: list[float]
    errs: list[float]
    failed: list[BoardRow]
    limits: list[tuple[float, float | None, str]]
    all_x: list[float]
    log: bool
    #: the top of the y axis when outliers are drawn at it (None: the data decide)
    y_cap: float | None = None
    #: the true values of the points drawn at ``y_cap``, by their index in ``rows``
    clipped: dict[int, float] = field(default_factory=dict)


def outlier_cap(values: Sequence[float]) -> float | None:
    """The top of a log-loss axis that keeps the bulk readable: with four or more values,
    those above the upper far-out fence (third quartile + 3 x interquartile range, and at least
    1.5 x the largest value below it) are outliers drawn at the cap; None when there are none.
    A model that learned nothing (log loss 14.6) then no longer squashes the others to a line."""
    if len(values) < 4:
        return None
    ordered = sorted(values)
    q1, q3 = (float(v) for v in _quartiles(ordered))
    fence = q3 + 3 * (q3 - q1)
    inside = [v for v in ordered if v <= fence]
    if len(inside) == len(ordered) or not inside:
        return None
    return max(fence, 1.5 * max(inside))


def _quartiles(ordered: Sequence[float]) -> tuple[float, float]:
    def at(q: float) -> float:
        pos = q * (len(ordered) - 1)
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    return at(0.25), at(0.75)


def _panel(board: Leaderboard, metric: str, quantity: str) -> _Panel:
    """The points, failed systems and limits of the (``metric``, ``quantity``) panel."""
    rows = [r for r in board.rows if r.status != "failed" and getattr(r, quantity) is not None]
    failed = [r for r in board.rows if r.status == "failed"]
    xs = [float(getattr(r, quantity)) for r in rows]
    limits = _limit_lines(board, quantity)
    all_x = (
        xs
        + [float(getattr(r, quantity)) for r in failed if getattr(r, quantity) is not None]
        + [x for x, _, _ in limits]
    )
    ys = [getattr(r, metric).mean for r in rows]
    cap = outlier_cap(ys) if metric == "log_loss" else None
    clipped = {k: y for k, y in enumerate(ys) if cap is not None and y > cap}
    return _Panel(
        quantity=quantity,
        rows=rows,
        xs=xs,
        ys=[cap if k in clipped else y for k, y in enumerate(ys)],
        errs=[0.0 if k in clipped else getattr(r, metric).std or 0.0 for k, r in enumerate(rows)],
        failed=failed,
        limits=limits,
        all_x=all_x,
        log=_log_scale(all_x),
        y_cap=cap,
        clipped=clipped,
    )


def _log_scale(all_x: list[float]) -> bool:
    """A log x axis when every value is positive and they span more than a factor of 20."""
    positive = [x for x in all_x if x > 0]
    return bool(positive) and len(positive) == len(all_x) and (max(positive) / min(positive) > 20)


def _draw_limits(ax: Any, limits: list[tuple[float, float | None, str]]) -> None:
    """Dashed lines at the limits, the ambiguous margin shaded, labelled above the frame."""
    for x, amb, label in limits:
        ax.axvline(x, color="#555", linestyle="--", linewidth=1, zorder=1)
        if amb:
            ax.axvspan(x, amb, color="#e08a00", alpha=0.15, zorder=0, linewidth=0)
        # above the axes frame, so it never hides a point or its label
        ax.annotate(
            label,
            xy=(x, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
            color="#555",
            annotation_clip=False,
        )


def _draw_front(ax: Any, panel: _Panel, maximize: bool) -> None:
    """The Pareto front of the systems that learned: a step line and a ring on each point."""
    xs, ys = panel.xs, panel.ys
    learned = [k for k, r in enumerate(panel.rows) if not r.degenerate]
    points = [(xs[k], ys[k]) for k in learned]
    front = [learned[k] for k in pareto_front(points, maximize)] if learned else []
    if len(front) > 1:
        fx = [xs[k] for k in front]
        fy = [ys[k] for k in front]
        ax.step(fx, fy, where="post", color="#2e7d32", linewidth=1.2, alpha=0.8, zorder=2)
    for k in front:
        ax.scatter(
            [xs[k]],
            [ys[k]],
            s=160,
            facecolors="none",
            edgecolors="#2e7d32",
            linewidths=1.5,
            zorder=3,
            gid=f"front-{panel.rows[k].system}",
        )


def _draw_points(ax: Any, panel: _Panel) -> None:
    """Every finished system, styled by its kind, with a ±std error bar over several seeds."""
    xs, ys, errs = panel.xs, panel.ys, panel.errs
    for k, row in enumerate(panel.rows):
        kind = _kind(row)
        style = STYLES[kind]
        hollow = style.get("hollow") or row.status == "noncompliant"
        face = "none" if hollow else style["color"]
        if errs[k]:
            ax.errorbar(
                xs[k], ys[k], yerr=errs[k], color=style["color"], capsize=3, linewidth=1, zorder=3
            )
        ax.scatter(
            [xs[k]],
            [ys[k]],
            marker="^" if k in panel.clipped else style["marker"],  # ^: beyond the axis top
            s=45,
            facecolors=face,
            edgecolors=style["color"],
            linewidths=1.3,
            zorder=4,
            gid=f"point-{kind}-{row.system}",
        )


def _draw_failed(ax: Any, failed: list[BoardRow], quantity: str) -> None:
    """Failed systems have no metric: a cross on the bottom edge at their size."""
    from matplotlib.transforms import blended_transform_factory

    edge = blended_transform_factory(ax.transData, ax.transAxes)
    for n, row in enumerate(failed):
        x = getattr(row, quantity)
        if x is None:
            continue
        ax.scatter(
            [float(x)],
            [0.03],
            transform=edge,
            clip_on=False,
            **{k: v for k, v in STYLES["failed"].items() if k != "label"},
            s=50,
            zorder=4,
            gid=f"point-failed-{row.system}",
        )
        ax.annotate(
            row.system,
            (float(x), 0.03),
            xycoords=edge,
            xytext=(5, 2 + 9 * (n % 4)),
            textcoords="offset points",
            fontsize=7,
            color="#c62828",
        )


def _finish_axes(ax: Any, panel: _Panel, ylabel: str, xlabel: str) -> None:
    """Axis labels, ticks, grid and ranges."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if not panel.rows and not panel.failed:
        ax.text(
            0.5,
            0.5,
            "no measured systems",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#777",
        )
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_formatter(FuncFormatter(si_label))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.12, y=0.15)
    ax.autoscale_view()
    if panel.all_x:  # explicit x range: failed crosses and limit lines do not autoscale
        ax.set_xlim(*_padded(min(panel.all_x), max(panel.all_x), panel.log))
    if not panel.rows:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
    if panel.y_cap is not None:  # outliers sit on the top edge, their value in the label
        ax.set_ylim(top=panel.y_cap * 1.06)


def _label_panel(ax: Any, panel: _Panel, number: dict[str, int], numbered: set[str]) -> set[str]:
    """The points' labels (after the layout); returns the systems labelled by number."""
    names = [
        f"{r.system} ({panel.clipped[k]:.2f} ↑)" if k in panel.clipped else r.system
        for k, r in enumerate(panel.rows)
    ]
    systems = [r.system for r in panel.rows]
    forced = {k for k, name in enumerate(systems) if name in numbered}
    used = place_labels(
        ax, panel.xs, panel.ys, names, ids=systems,
        numbers=[number[name] for name in systems], numbered=forced,
    )  # fmt: skip
    return {systems[k] for k in used}


def _draw_panel(ax: Any, board: Leaderboard, metric: tuple, xaxis: tuple) -> _Panel:
    """One panel: ``metric`` (name, label, maximise) against ``xaxis`` (quantity, label), its
    points not yet labelled."""
    name, ylabel, maximize = metric
    quantity, xlabel = xaxis
    panel = _panel(board, name, quantity)
    if panel.log:
        ax.set_xscale("log")
    _draw_limits(ax, panel.limits)  # limits first so that points are drawn on top
    _draw_front(ax, panel, maximize)
    _draw_points(ax, panel)
    _draw_failed(ax, panel.failed, quantity)
    better = "lower" if name == "log_loss" else "higher"
    _finish_axes(ax, panel, f"{ylabel} ({better} is better)", xlabel)
    return panel


def _legend_handles(board: Leaderboard) -> list[Any]:
    """One legend entry per kind of point the board shows (no 'failed' entry on a board
    without a failed system), the Pareto front, the limits and margins."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    present = {_kind(r) for r in board.rows}
    handles = [
        Line2D(
            [],
            [],
            linestyle="none",
            marker=s["marker"],
            markersize=7,
            markerfacecolor="none" if s.get("hollow") or s["marker"] == "x" else s["color"],
            markeredgecolor=s["color"],
            label=s["label"],
        )
        for kind, s in STYLES.items()
        if kind in present  # only the kinds this board shows (issue 17)
    ]
    handles.append(
        Line2D(
            [],
            [],
            color="#2e7d32",
            marker="o",
            markerfacecolor="none",
            markersize=10,
            label="Pareto front",
        )
    )
    handles.append(Line2D([], [], color="#555", linestyle="--", label="rule-set limit"))
    if any(lim.ambiguous_up_to for lim in board.ruleset.limits):
        handles.append(
            Patch(facecolor="#e08a00", alpha=0.15, label="ambiguous margin of the rule text")
        )
    return handles


def key_lines(board: Leaderboard, numbered: set[str], width: int = 190) -> list[str]:
    """The key of the points labelled by number (their name did not fit beside them): each
    number is the system's row on the board."""
    if not numbered:
        return []
    # a no-break space keeps each number with its name when the line wraps
    items = [f"{n}\u00a0{r.system}" for n, r in enumerate(board.rows, 1) if r.system in numbered]
    return textwrap.wrap(
        "numbered points (row on the board): " + " · ".join(items), width, subsequent_indent="    "
    )


def _draw_legend(fig: Any, board: Leaderboard, key: list[str]) -> float:
    """The legend below the panels, the key of numbered points and the degenerate systems'
    reasons under it; returns the height they take (figure fraction, beyond the legend's own
    row)."""
    handles = _legend_handles(board)
    footer = 0.0
    legend: dict[str, Any] = {"ncol": len(handles)}
    for lines, color, gid in (
        (key, "#333", "label-key"), (degenerate_lines(board), "#6a1b9a", "degenerate-reasons")
    ):  # fmt: skip
        if lines:
            fig.text(
                0.01, 0.006 + footer, "\n".join(lines), fontsize=7, color=color, ha="left",
                va="bottom", gid=gid,
            )  # fmt: skip
            footer += 0.015 * len(lines) + 0.01
    if footer:  # the legend moves up to make room and takes two rows
        legend = {"ncol": math.ceil(len(handles) / 2), "bbox_to_anchor": (0.5, footer)}
        footer += 0.025
    fig.legend(handles=handles, loc="lower center", fontsize=8, frameon=False, **legend)
    return footer


def _figure(board: Leaderboard, numbered: set[str]) -> tuple[Any, set[str]]:
    """The figure with the systems in ``numbered`` labelled by number; returns it and the
    systems that ended up numbered (those plus any whose name did not fit)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A Figure with its own Agg canvas: no pyplot, so no global backend state is touched.
    fig = Figure(figsize=(12, 9))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, squeeze=False)
    title = board.ruleset.title or board.ruleset.name
    fig.suptitle(f"{title}: accuracy and log loss against model size and MACs", fontsize=12)
    panels = [
        (axes[i][j], _draw_panel(axes[i][j], board, metric, xaxis))
        for i, metric in enumerate(_METRICS)
        for j, xaxis in enumerate(_XAXES)
    ]
    footer = _draw_legend(fig, board, key_lines(board, numbered))
    fig.tight_layout(rect=(0, 0.04 + footer, 1, 0.97))
    number = {r.system: n for n, r in enumerate(board.rows, 1)}
    used = set(numbered)
    for ax, panel in panels:  # labels last: they are placed on the final geometry
        used |= _label_panel(ax, panel, number, numbered)
    return fig, used


def pareto_figure(board: Leaderboard) -> Any:
    """The 2×2 :class:`matplotlib.figure.Figure` of ``board``, on an Agg canvas.

    Points are labelled with their names; a point whose name would overlap another label, a
    marker or the frame is labelled with its number, and a key under the legend lists those
    numbers (the figure is laid out again with room for the key, at most three times)."""
    fig, numbered = _figure(board, set())
    for _ in range(3):
        if not numbered:
            break
        fig, used = _figure(board, numbered)
        if used == numbered:
            break
        numbered = used
    return fig


def render_pareto(board: Leaderboard) -> tuple[bytes, str]:
    """The plot of ``board`` as (PNG bytes, SVG text); the same board gives the same bytes."""
    import matplotlib

    # fixed element ids and no date: identical boards give identical files
    with matplotlib.rc_context({"svg.hashsalt": "ascbench", "svg.fonttype": "path"}):
        fig = pareto_figure(board)
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return png.getvalue(), svg.getvalue().decode("utf-8")


def write_pareto(board: Leaderboard, stem: str | Path) -> tuple[Path, Path, str]:
    """Write ``<stem>.png`` and ``<stem>.svg`` atomically; returns both paths and the SVG."""
    stem = Path(stem)
    png, svg = render_pareto(board)
    png_path = atomic_write_bytes(stem.with_name(stem.name + ".png"), png)
    svg_path = atomic_write_bytes(stem.with_name(stem.name + ".svg"), svg.encode("utf-8"))
    return png_path, svg_path, svg
