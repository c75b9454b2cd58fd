"""Rendering a leaderboard: a terminal table, Markdown and a self-contained HTML page.

All three render the same :func:`table` (one row per system, ranked), so they never disagree.
A system whose predictions show that it learned nothing is 'degenerate' in the status column
(or 'noncompliant, degenerate'), and its reasons are printed under the table (terminal) or in
the notes per system (Markdown, HTML). :func:`render_all` writes every format for a set of
boards, plots included.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from ascbench.leaderboard import degeneracy
from ascbench.leaderboard._io import atomic_write_text
from ascbench.leaderboard.board import BoardRow, Leaderboard, Stat, board_filename
from ascbench.leaderboard.entry import LeaderboardEntry
from ascbench.text import count

_QUANTITY_LABEL = {
    "parameters": "params",
    "nonzero_parameters": "non-zero",
    "bytes": "bytes",
    "macs": "MACs",
}
_METRIC_LABEL = {"log_loss": "log loss", "accuracy": "accuracy"}
_DASH = "—"


@dataclass(frozen=True)
class Table:
    """Column headers, the rows as display strings, and which columns are 'reported'."""

    headers: list[str]
    rows: list[list[str]]
    reported_columns: list[int]
    limit_columns: list[int]


def _int(value: int | None, varies: bool = False) -> str:
    if value is None:
        return _DASH
    return f"{value:,}" + ("*" if varies else "")


def _float(value: float | None, digits: int) -> str:
    return _DASH if value is None else f"{value:.{digits}f}"


def _stat(value: Stat | None, digits: int) -> str:
    return _DASH if value is None else value.format(digits, ci=True)


def limit_header(quantity: str, maximum: int) -> str:
    """Column title of a limit, e.g. 'MACs ≤ 30,000,000'."""
    return f"{_QUANTITY_LABEL.get(quantity, quantity)} ≤ {maximum:,}"


def _status(row: BoardRow) -> str:
    status = row.status
    if row.degenerate and status == "noncompliant":
        status = "noncompliant, degenerate"
    if row.failed_seeds and row.status != "failed":
        return f"{status} ({len(row.failed_seeds)}/{len(row.seeds)} seeds failed)"
    return status


def _status_word(cell: str) -> str:
    """The first word of a status cell: 'noncompliant, degenerate' -> 'noncompliant'."""
    return cell.split(" ", 1)[0].rstrip(",")


def table(board: Leaderboard) -> Table:
    """The leaderboard as display strings: one row per system in rank order."""
    limits = board.ruleset.limits
    headers = [
        "#",
        "System",
        "Seeds",
        "Status",
        "Log loss",
        "Acc. %",
        "Params",
        "Non-zero",
        "Bytes",
        "MACs",
        *[limit_header(lim.quantity, lim.maximum) for lim in limits],
        "Log loss (rep.)",
        "Acc. % (rep.)",
        "Params (rep.)",
        "Non-zero (rep.)",
        "Bytes (rep.)",
        "MACs (rep.)",
    ]
    first_limit = 10
    rows = []
    for row in board.rows:
        rep = row.reported
        varies = row.complexity_varies
        rows.append(
            [
                str(row.rank) if row.rank is not None else _DASH,
                row.system + (" †" if row.proposal else ""),
                str(len(row.seeds)),
                _status(row),
                _stat(row.log_loss, 3),
                _stat(row.accuracy, 1),
                _int(row.parameters, varies),
                _int(row.nonzero_parameters, varies),
                _int(row.bytes, varies),
                _int(row.macs, varies),
                *[row.limits.get(lim.quantity, _DASH) for lim in limits],
                _float(rep.log_loss if rep else None, 3),
                _float(rep.accuracy if rep else None, 1),
                _int(rep.parameters if rep else None),
                _int(rep.nonzero_parameters if rep else None),
                _int(rep.bytes if rep else None),
                _int(rep.macs if rep else None),
            ]
        )
    n_limits = len(limits)
    return Table(
        headers=headers,
        rows=rows,
        reported_columns=list(range(first_limit + n_limits, len(headers))),
        limit_columns=list(range(first_limit, first_limit + n_limits)),
    )


# -- notes shared by Markdown and HTML ----------------------------------------------------------


def _ranking_sentence(board: Leaderboard) -> str:
    primary = board.ruleset.primary_metric
    other = "accuracy" if primary == "log_loss" else "log_loss"
    direction = "ascending" if primary == "log_loss" else "descending"
    return (
        f"Ranked by {_METRIC_LABEL[primary]} ({direction}), ties broken by "
        f"{_METRIC_LABEL[other]}; degenerate, noncompliant and failed systems are listed "
        "without a rank, every degenerate one after every system that learned."
    )


#: What † after a system's name means (any plugin's system, bundled or third-party).
PROPOSAL_NOTE = (
    "† proposal: the plugin's reconstruction of the architecture, sized to the report's "
    "numbers; not the authors' network."
)


def degenerate_note() -> str:
    """What 'degenerate' means, with the thresholds (one line)."""
    return (
        "degenerate: the predictions on the test split show that the model learned nothing: "
        f"one class predicted for ≥ {degeneracy.ONE_CLASS_PERCENT} % of the clips, two for "
        f"≥ {degeneracy.TWO_CLASSES_PERCENT} % (with ≥ {degeneracy.TWO_CLASSES_MIN_CLASSES} "
        "classes), log loss above ln(classes), or accuracy not above chance (one-sided exact "
        f"binomial test, p > {degeneracy.ALPHA}). A clip's predicted class is its top "
        "probability's; exact ties go to the lowest class index."
    )


def single_seed_note(board: Leaderboard) -> str | None:
    """For a board whose ranked systems have one seed each: how far the test split alone moves
    an accuracy (the binomial standard error at the board's median accuracy), so that a reader
    does not take a difference of a few points for a ranking. None with several seeds (the
    board then shows intervals) or when the entries do not say how many clips they tested."""
    import math
    import statistics

    rows = [r for r in board.rows if r.rank is not None and r.accuracy is not None]
    if not rows or any(len(r.seeds) > 1 for r in rows):
        return None
    ranked = {r.system for r in rows}
    clips = {
        e.metrics.predictions.clips
        for e in board.entries
        if e.system.name in ranked and e.metrics and e.metrics.predictions
    }
    if len(clips) != 1:
        return None
    n = clips.pop()
    p = statistics.median(r.accuracy.mean for r in rows) / 100
    error = 100 * math.sqrt(p * (1 - p) / n)
    return (
        f"One seed per system: on {n:,} test clips an accuracy near {100 * p:.0f} % has a "
        f"standard error of about {error:.1f} points from the choice of clips alone (binomial), "
        "and training with another seed moves it further; a difference of a few points is not "
        "a ranking (--n-seeds N gives each system's mean and 95 % interval)."
    )


def notes(board: Leaderboard) -> list[str]:
    """Explanatory lines printed under the table (plain text)."""
    lines = [_ranking_sentence(board)]
    lines.append(
        "Log loss and accuracy are the macro averages over classes on the evaluation split; "
        "with several seeds the value is mean ± sample standard deviation [95 % confidence "
        "interval of the mean, Student t]."
    )
    one_seed = single_seed_note(board)
    if one_seed:
        lines.append(one_seed)
    for lim in board.ruleset.limits:
        text = f" — {lim.text}" if lim.text else ""
        amb = (
            f"; values up to {lim.ambiguous_up_to:,} are 'ambiguous'"
            if lim.ambiguous_up_to is not None
            else ""
        )
        lines.append(f"Limit: {_QUANTITY_LABEL[lim.quantity]} ≤ {lim.maximum:,}{text}{amb}.")
    conventions = sorted(
        {
            f"{e.complexity.convention} ({e.complexity.counter})"
            for e in board.entries
            if e.complexity
        }
    )
    if conventions:
        lines.append("Complexity counted with " + "; ".join(conventions) + ".")
    lines.append(
        "'(rep.)' columns are the numbers the technical report states, as reported; the "
        "other columns are measured by ascbench."
    )
    if any(r.proposal for r in board.rows):
        lines.append(PROPOSAL_NOTE)
    if any(r.complexity_varies for r in board.rows):
        lines.append("* complexity differs between seeds; the largest value is shown.")
    if any(r.degenerate for r in board.rows):
        lines.append(degenerate_note())
    return lines


def _ties(board: Leaderboard, system: str) -> list[str]:
    """'top probability tied in 34 of 360 clips …' per seed of ``system`` that has any."""
    entries = [e for e in board.entries if e.system.name == system]
    out = []
    for e in entries:
        stats = e.metrics.predictions if e.metrics else None
        if stats is None or not stats.tied:
            continue
        seed = f"seed {e.seed}: " if len(entries) > 1 else ""
        out.append(
            f"{seed}top probability tied in {stats.tied:,} of {stats.clips:,} clips (the "
            "lowest class index among the tied is the prediction)"
        )
    return out


def system_notes(board: Leaderboard) -> list[tuple[str, list[str]]]:
    """Per system: why it learned nothing, failure/noncompliance reasons, complexity flags,
    tied top probabilities, deviations from its report."""
    out = []
    for row in board.rows:
        items = [f"degenerate: {d}" for d in row.degenerate]
        kind = "note" if row.status in ("ok", "degenerate") else "reason"
        items += [f"{kind}: {r}" for r in row.reasons]
        items += [f"flag: {f}" for f in row.flags]
        items += [f"note: {t}" for t in _ties(board, row.system)]
        items += [f"deviation from the report: {d}" for d in row.deviations]
        if row.reported and row.reported.source:
            counting = f"; counted as: {row.reported.counting}" if row.reported.counting else ""
            items.append(f"reported numbers from {row.reported.source}{counting}")
        if items:
            out.append((row.system, items))
    return out


def stages_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """One line per compression stage of each system with a chain (its lowest seed): the
    model's complexity, compliance and scores after that stage."""
    headers = ["System", "Seed", "Stage", "Params", "Non-zero", "Bytes", "MACs", "Status",
               "Acc. %", "Log loss"]  # fmt: skip
    rows = []
    first: dict[str, LeaderboardEntry] = {}
    for entry in board.entries:
        first.setdefault(entry.system.name, entry)
    for name, entry in first.items():
        if len(entry.stages) < 2:
            continue
        for stage in entry.stages:
            c, m = stage.complexity, stage.metrics
            rows.append([
                name, str(entry.seed), stage.name,
                _int(c.parameters if c else None), _int(c.nonzero_parameters if c else None),
                _int(c.bytes if c else None), _int(c.macs if c else None),
                stage.compliance.status if stage.compliance else "—",
                _float(m.accuracy if m else None, 1), _float(m.log_loss if m else None, 3),
            ])  # fmt: skip
    return headers, rows


def provenance_table(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """One line per entry: where and how it was produced."""
    headers = [
        "System",
        "Seed",
        "Status",
        "Dataset",
        "Budget",
        "Hardware",
        "Versions",
        "Finished (UTC)",
        "Entry hash",
    ]
    rows = []
    for e in board.entries:
        p = e.provenance
        data = (
            f"{p.dataset.name} [{p.dataset.fingerprint[:12]}] "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(p.dataset.clips.items()))
            if p.dataset
            else _DASH
        )
        budget = "full recipe" if p.budget.full else "budget"
        if p.budget.epochs is not None:
            budget += f", {p.budget.epochs} epochs"
        if p.budget.minutes is not None:
            budget += f", {p.budget.minutes:g} min"
        versions = f"ascbench {p.ascbench_version}, torch {p.torch_version}, py {p.python_version}"
        if p.numpy_version:
            versions += f", numpy {p.numpy_version}"
        if e.system.plugin:
            versions += f", {e.system.plugin} {e.system.plugin_version}".rstrip()
        if p.git_commit:
            versions += f", git {p.git_commit[:10]}{' (dirty)' if p.git_dirty else ''}"
        rows.append(
            [
                e.system.name,
                str(e.seed),
                e.status + (", degenerate" if e.degenerate and e.status != "degenerate" else ""),
                data,
                budget,
                f"{p.hardware.describe()}, {p.device}"
                + (f", {p.torch_threads} torch threads" if p.torch_threads else "")
                + (f", kernels {p.kernels.describe()}" if p.kernels else ""),
                versions,
                p.finished.strftime("%Y-%m-%d %H:%M:%S"),
                (e.entry_hash or "")[:16],
            ]
        )
    return headers, rows


# -- terminal -----------------------------------------------------------------------------------


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table (numbers right-aligned) for the terminal."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    numeric = re.compile(r"^[\d,.±* —\[\]-]+$")

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            right = i > 0 and numeric.match(cell) is not None and cell != _DASH
            out.append(cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def render_text(board: Leaderboard, *, reported: bool = False) -> str:
    """The board for the terminal: title, table (without reported columns unless asked)."""
    t = table(board)
    keep = [i for i in range(len(t.headers)) if reported or i not in t.reported_columns]
    headers = [t.headers[i] for i in keep]
    rows = [[r[i] for i in keep] for r in t.rows]
    title = f"{board.ruleset.name}: {board.ruleset.title}".rstrip(": ")
    n = len(board.entries)
    summary = f"{count(len(board.rows), 'system')}, {count(n, 'entry')}; {_ranking_sentence(board)}"
    text = f"{title}\n{summary}\n\n{text_table(headers, rows)}\n"
    if any(r.proposal for r in board.rows):
        text += f"{PROPOSAL_NOTE}\n"
    degenerate = [r for r in board.rows if r.degenerate]
    if degenerate:
        text += "\nDegenerate (learned nothing):\n"
        text += "".join(f"  {r.system}: {'; '.join(r.degenerate)}\n" for r in degenerate)
    return text


# -- Markdown -----------------------------------------------------------------------------------


def _md(cell: str) -> str:
    return " ".join(cell.replace("\\", "\\\\").replace("|", "\\|").split())


def _md_status(cell: str) -> str:
    word = _status_word(cell)
    bold = {"fail", "noncompliant", "failed", "degenerate"}
    return f"**{_md(cell)}**" if word in bold else _md(cell)


def markdown_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    out = ["| " + " | ".join(_md(h) for h in headers) + " |"]
    out.append("|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|")
    out += ["| " + " | ".join(_md_status(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(board: Leaderboard, *, plot_file: str | None = None) -> str:
    """The board as a Markdown document: table, notes, per-system notes, provenance."""
    t = table(board)
    right = {0, 2, 4, 5, 6, 7, 8, 9, *t.reported_columns}
    title = board.ruleset.title or board.ruleset.name
    parts = [
        f"# Leaderboard: {_md(title)} (`{board.ruleset.name}`)",
        "",
        f"Generated {board.generated_at.strftime('%Y-%m-%d %H:%M:%S')} UTC from "
        f"{count(len(board.entries), 'entry')} of {count(len(board.rows), 'system')}.",
        "",
        markdown_table(t.headers, t.rows, right),
        "",
        *[f"- {_md(n)}" for n in notes(board)],
    ]
    if plot_file:
        parts += ["", f"![Accuracy and log loss against bytes and MACs]({plot_file})"]
    sys_notes = system_notes(board)
    if sys_notes:
        parts += ["", "## Notes per system", ""]
        for system, items in sys_notes:
            parts.append(f"- **{_md(system)}**")
            parts += [f"  - {_md(item)}" for item in items]
    headers, rows = stages_table(board)
    if rows:
        parts += ["", "## Compression stages", "",
                  markdown_table(headers, rows, {1, 3, 4, 5, 6, 8, 9})]  # fmt: skip
    headers, rows = provenance_table(board)
    parts += ["", "## Provenance", "", markdown_table(headers, rows, {1}), ""]
    return "\n".join(parts)


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.25rem .5rem;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.text{white-space:normal;overflow-wrap:anywhere;min-width:8rem;max-width:20rem}
td.rep,th.rep{background:#f7f7fb;color:#555}
.pass,.ok{color:#1a7f37}.fail,.noncompliant,.failed{color:#c62828;font-weight:600}
.ambiguous{color:#b26a00;font-weight:600}.degenerate{color:#6a1b9a;font-weight:600}
.plot svg{max-width:100%;height:auto}
ul{font-size:.9rem}code{background:#f3f3f3;padding:0 .2rem}
"""


#: A cell of text longer than this wraps (class "text") instead of widening its table: the
#: provenance's hardware and versions made the page 2,576 px wide.
_WRAP_AT = 40

_STATUS_CLASSES = {"pass", "fail", "ambiguous", "ok", "degenerate", "noncompliant", "failed"}


def _status_class(cell: str) -> str:
    """CSS classes of a cell: its status words, e.g. 'noncompliant degenerate'."""
    words = [w.rstrip(",") for w in cell.split()[:2]]
    return " ".join(dict.fromkeys(w for w in words if w in _STATUS_CLASSES))


def html_table(
    headers: list[str],
    rows: list[list[str]],
    right: Collection[int],
    reported: Collection[int] = (),
) -> str:
    def th(i: int, h: str) -> str:
        cls = ' class="rep"' if i in reported else ""
        return f"<th{cls}>{html.escape(h)}</th>"

    def td(i: int, c: str) -> str:
        wraps = "text" if len(c) > _WRAP_AT and i not in right else ""
        classes = [
            k
            for k in (
                "num" if i in right else "", "rep" if i in reported else "", wraps,
                _status_class(c),
            )
            if k
        ]  # fmt: skip
        cls = f' class="{" ".join(classes)}"' if classes else ""
        return f"<td{cls}>{html.escape(c)}</td>"

    head = "<tr>" + "".join(th(i, h) for i, h in enumerate(headers)) + "</tr>"
    body = "\n".join(
        "<tr>" + "".join(td(i, c) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def inline_svg(svg: str) -> str:
    """SVG text ready to embed in HTML: XML declaration, doctype and comments removed."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.IGNORECASE)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)
    return svg.strip()


def _reported_table(t: Table) -> list[str]:
    """The reports' own numbers as a table of their own under the measured one (side by side
    they made the page wider than 1,400 px); nothing when no system reports a number."""
    keep = [0, 1, *t.reported_columns]
    rows = [[r[i] for i in keep] for r in t.rows
            if any(r[i] != _DASH for i in t.reported_columns)]  # fmt: skip
    if not rows:
        return []
    headers = [t.headers[i].removesuffix(" (rep.)") for i in keep]
    reported = set(range(2, len(keep)))
    return ["<h2>As the reports state them</h2>",
            html_table(headers, rows, {0, *reported}, reported)]  # fmt: skip


def render_html(board: Leaderboard, *, svg: str | None = None) -> str:
    """The board as one self-contained HTML page (inline CSS, the plot as inline SVG)."""
    t = table(board)
    right = {0, 2, 4, 5, 6, 7, 8, 9}
    measured = [i for i in range(len(t.headers)) if i not in t.reported_columns]
    main_table = html_table([t.headers[i] for i in measured],
                            [[r[i] for i in measured] for r in t.rows], right)  # fmt: skip
    title = board.ruleset.title or board.ruleset.name
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ascbench leaderboard: {esc(board.ruleset.name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Leaderboard: {esc(title)} (<code>{esc(board.ruleset.name)}</code>)</h1>",
        f"<p>Generated {board.generated_at.strftime('%Y-%m-%d %H:%M:%S')} UTC from "
        f"{count(len(board.entries), 'entry')} of {count(len(board.rows), 'system')}.</p>",
        main_table,
        "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes(board)) + "</ul>",
    ]
    parts += _reported_table(t)
    if svg:
        parts += [
            "<h2>Accuracy and log loss against bytes and MACs</h2>",
            f'<div class="plot">{inline_svg(svg)}</div>',
        ]
    sys_notes = system_notes(board)
    if sys_notes:
        parts.append("<h2>Notes per system</h2><ul>")
        for system, items in sys_notes:
            inner = "".join(f"<li>{esc(i)}</li>" for i in items)
            parts.append(f"<li><strong>{esc(system)}</strong><ul>{inner}</ul></li>")
        parts.append("</ul>")
    headers, rows = stages_table(board)
    if rows:
        parts += ["<h2>Compression stages</h2>",
                  html_table(headers, rows, {1, 3, 4, 5, 6, 8, 9})]  # fmt: skip
    headers, rows = provenance_table(board)
    parts += ["<h2>Provenance</h2>", html_table(headers, rows, {1}), "</body>", "</html>", ""]
    return "\n".join(parts)


def render_index(
    boards: dict[str, Leaderboard], *, page: Callable[[str], str] | None = None
) -> str:
    """A self-contained HTML index linking the page of every rule set.

    ``page`` maps a rule-set name to its page's file name (default: ``leaderboard-<rs>.html``,
    as :func:`render_all` writes it).
    """
    page = page or (lambda name: f"{board_filename(name)[: -len('.json')]}.html")
    items = "".join(
        f'<li><a href="{html.escape(page(name))}">{html.escape(name)}</a>: '
        f"{html.escape(b.ruleset.title)} ({len(b.rows)} systems)</li>"
        for name, b in boards.items()
    )
    return (
        f'<!DOCTYPE html>\n{INDEX_MARK}\n<html lang="en">\n<head><meta charset="utf-8">'
        f"<title>ascbench leaderboards</title><style>{_CSS}</style></head>\n"
        f"<body><h1>ascbench leaderboards</h1><ul>{items}</ul></body>\n</html>\n"
    )


# -- everything ---------------------------------------------------------------------------------

#: The first comment of an index page ascbench wrote; another file of that name is the user's.
INDEX_MARK = "<!-- ascbench index -->"
INDEX_OLD_TITLE = "<title>ascbench leaderboards</title>"  # pages written before the mark


def index_path(out: Path) -> Path:
    """``out/index.html``, unless a file of that name there is not ascbench's (the user's own
    page): then ``out/ascbench-index.html``, leaving the user's file alone."""
    path = out / "index.html"
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return path
    return path if INDEX_MARK in head or INDEX_OLD_TITLE in head else out / "ascbench-index.html"


def render_all(
    boards: dict[str, Leaderboard], out: str | Path, *, plots: bool = True,
    index: dict[str, Leaderboard] | None = None,
) -> list[Path]:  # fmt: skip
    """Write, per rule set, ``leaderboard-<rs>.{json,md,html}`` and ``pareto-<rs>.{png,svg}``
    into ``out``, plus ``index.html`` linking the boards of ``index`` (default: ``boards``).
    Every file is written atomically; returns the paths."""
    out = Path(out)
    written: list[Path] = []
    for name, board in boards.items():
        stem = board_filename(name)[: -len(".json")]
        svg = None
        plot_file = None
        if plots:
            from ascbench.leaderboard.plot import write_pareto

            png_path, svg_path, svg = write_pareto(board, out / f"pareto-{name}")
            written += [png_path, svg_path]
            plot_file = png_path.name
        written.append(board.write(out / f"{stem}.json"))
        written.append(
            atomic_write_text(out / f"{stem}.md", render_markdown(board, plot_file=plot_file))
        )
        written.append(atomic_write_text(out / f"{stem}.html", render_html(board, svg=svg)))
    written.append(atomic_write_text(index_path(out), render_index(index or boards)))
    return written


def render_results(
    results: str | Path,
    out: str | Path | None = None,
    *,
    rules: str | None = None,
    plots: bool = True,
    errors: list[str] | None = None,
) -> list[Path]:
    """Render the boards of a results directory (what ``ascbench run`` calls at the end).

    ``out`` defaults to ``results`` itself; ``rules`` keeps only that rule set's board. With
    ``errors`` (lenient mode) bad result files are skipped and described there.
    """
    from ascbench.leaderboard.board import merge

    every = merge([results], errors=errors)
    boards = select_boards(every, rules) if rules is not None else every
    # the index links every board of the results directory, not only the one rendered now
    return render_all(boards, out if out is not None else results, plots=plots, index=every)


def select_boards(boards: dict[str, Leaderboard], rules: str) -> dict[str, Leaderboard]:
    """Only the board of rule set ``rules`` (a name), with a one-line error if there is none."""
    from ascbench.leaderboard.entry import LeaderboardError

    if rules not in boards:
        known = ", ".join(boards) or "none"
        raise LeaderboardError(
            f"no results for rule set '{rules}' (results exist for: {known}); run it with "
            f"`ascbench run --rules {rules}` or pick one of those"
        )
    return {rules: boards[rules]}
