"""Rendering: Markdown table, self-contained HTML, terminal text, Pareto plot files."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from ascbench.leaderboard import build_leaderboard, render_all, render_html, render_markdown
from ascbench.leaderboard.plot import _limit_lines, pareto_front, render_pareto, si_label
from ascbench.leaderboard.render import render_text, table
from ascbench.systems import ReportedResults

WHEN = datetime(2024, 6, 1, 8, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def board2021(make_entry):
    return build_leaderboard(
        [
            make_entry(
                "kim2021",
                log_loss=0.86,
                accuracy=67.0,
                parameters=31_000,
                nonzero=30_210,
                reported=ReportedResults(
                    source="Table 3", accuracy=68.1, log_loss=0.85, bytes=120_841
                ),
            ),
            make_entry(
                "kim2021", seed=1, log_loss=0.90, accuracy=66.0, parameters=31_000, nonzero=30_210
            ),
            make_entry(
                "puy2021",
                log_loss=0.90,
                accuracy=66.8,
                parameters=31_237,
                nbytes=124_948,
                proposal=True,
            ),
            make_entry("edge", log_loss=1.2, accuracy=55.0, parameters=32_500, nbytes=130_000),
            make_entry(
                "big",
                log_loss=0.75,
                accuracy=72.0,
                parameters=80_000,
                flags=["ops without a MAC rule were counted as 0: aten::lstm x1"],
            ),
            make_entry("broken", error="RuntimeError: CUDA out of memory"),
        ],
        WHEN,
    )


@pytest.fixture(scope="module")
def pareto2021(board2021):
    """(PNG bytes, SVG text) of the board, rendered once for the module."""
    return render_pareto(board2021)


def _md_rows(md: str) -> list[list[str]]:
    """The cells of the first Markdown table (header included, separator excluded)."""
    lines = md.split("\n\n")[2].splitlines()
    rows = [lines[0], *lines[2:]]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]


def test_markdown_table_content(board2021):
    md = render_markdown(board2021, plot_file="pareto-dcase2021.png")
    rows = _md_rows(md)
    header = rows[0]
    assert header[:10] == [
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
    ]
    assert header[10] == "bytes ≤ 128,000"
    assert header[11:] == [
        "Log loss (rep.)",
        "Acc. % (rep.)",
        "Params (rep.)",
        "Non-zero (rep.)",
        "Bytes (rep.)",
        "MACs (rep.)",
    ]
    body = {r[1]: r for r in rows[1:]}
    assert [r[1] for r in rows[1:]] == ["kim2021", "puy2021 †", "edge", "big", "broken"]
    kim = body["kim2021"]
    assert kim[:11] == [
        "1",
        "kim2021",
        "2",
        "ok",
        "0.880 ± 0.028 [0.626, 1.134]",  # 95 % CI, Student t with 1 df
        "66.5 ± 0.7 [60.1, 72.9]",
        "31,000",
        "30,210",
        "120,840",
        "10,000,000",
        "pass",
    ]
    assert kim[11:] == ["0.850", "68.1", "—", "—", "120,841", "—"]
    assert body["puy2021 †"][0] == "2" and body["puy2021 †"][8] == "124,948"
    assert body["edge"][0] == "3" and body["edge"][10] == "ambiguous"
    assert body["big"][:4] == ["—", "big", "1", "**noncompliant**"]
    assert body["big"][10] == "**fail**"
    assert body["broken"][3] == "**failed**" and body["broken"][4] == "—"
    assert "Ranked by log loss (ascending), ties broken by accuracy" in md
    assert "† proposal" in md
    assert "![Accuracy and log loss against bytes and MACs](pareto-dcase2021.png)" in md
    assert "reason: RuntimeError: CUDA out of memory" in md
    assert "flag: ops without a MAC rule were counted as 0: aten::lstm x1" in md
    assert "## Provenance" in md and board2021.entries[0].entry_hash[:16] in md
    assert "Generated 2024-06-01 08:30:00 UTC from 6 entries of 5 systems." in md


def test_html_is_self_contained(board2021, pareto2021):
    _, svg = pareto2021
    page = render_html(board2021, svg=svg)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1 and "</svg>" in page
    assert "<?xml" not in page
    # nothing is fetched from elsewhere: no external scripts, styles, images or fonts
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page, re.I)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(http" not in page
    assert "puy2021 †" in page
    assert '<td class="noncompliant">noncompliant</td>' in page
    assert '<td class="ambiguous">ambiguous</td>' in page
    ET.fromstring(re.search(r"<svg.*</svg>", page, re.S).group(0))  # the inline SVG parses


def test_markdown_cells_are_escaped():
    from ascbench.leaderboard.render import markdown_table

    md = markdown_table(["a", "b"], [["x|y", "line\nbreak"]], right={1})
    assert md.splitlines() == ["| a | b |", "|---|---:|", "| x\\|y | line break |"]


def test_html_escapes_user_text(make_entry):
    e = make_entry("x", error="<script>alert(1)</script>")
    page = render_html(build_leaderboard([e], WHEN))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_terminal_text(board2021):
    text = render_text(board2021)
    lines = text.splitlines()
    assert lines[0] == "dcase2021: DCASE 2021 Task 1A: low-complexity ASC with multiple devices"
    assert "(rep.)" not in text
    assert re.search(r"^1\s+kim2021\s+2\s+ok\s+0\.880 ± 0\.028", text, re.M)
    assert "(rep.)" in render_text(board2021, reported=True)
    assert len(table(board2021).rows) == 5


def test_pareto_front():
    points = [(1.0, 50.0), (2.0, 60.0), (2.0, 55.0), (3.0, 58.0), (4.0, 70.0), (1.0, 50.0)]
    assert pareto_front(points, maximize=True) == [0, 5, 1, 4]
    losses = [(1.0, 1.2), (2.0, 0.9), (3.0, 1.0), (5.0, 0.5)]
    assert pareto_front(losses, maximize=False) == [0, 1, 3]
    assert pareto_front([], maximize=True) == []


def test_limit_lines(board2021, make_entry):
    assert _limit_lines(board2021, "bytes") == [(128_000.0, 131_072, "limit 128,000 B")]
    assert _limit_lines(board2021, "macs") == []
    b22 = build_leaderboard([make_entry("a", "dcase2022")], WHEN)
    assert _limit_lines(b22, "bytes") == [(128_000.0, None, "limit 128,000 params (= 128,000 B)")]
    assert _limit_lines(b22, "macs") == [(30_000_000.0, None, "limit 30,000,000 MACs")]
    assert si_label(128_000) == "128k" and si_label(30e6) == "30M" and si_label(5) == "5"


def test_render_all_writes_every_format(tmp_path, board2021, pareto2021):
    paths = render_all({"dcase2021": board2021}, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == [
        "index.html",
        "leaderboard-dcase2021.html",
        "leaderboard-dcase2021.json",
        "leaderboard-dcase2021.md",
        "pareto-dcase2021.png",
        "pareto-dcase2021.svg",
    ]
    png = (tmp_path / "pareto-dcase2021.png").read_bytes()
    assert png == pareto2021[0]  # the same board gives the same bytes
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1320, 990)  # 12 x 9 in at 110 dpi: the 2x2 layout
    svg = (tmp_path / "pareto-dcase2021.svg").read_text()
    assert svg == pareto2021[1]
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    # every system is labelled in each of the 4 panels (broken: as a failed cross)
    for name in ("kim2021", "edge", "big", "broken"):
        assert svg.count(f"<!-- {name} -->") == 4, name
    assert svg.count("<!-- puy2021 -->") == 4
    assert "limit 128,000 B" in svg and "Pareto front" in svg
    assert not list(tmp_path.glob(".*.tmp"))


def test_plot_of_a_board_without_finished_systems(tmp_path, make_entry):
    board = build_leaderboard([make_entry("x", error="boom")], WHEN)
    png, svg = render_pareto(board)
    assert png.startswith(b"\x89PNG") and "<svg" in svg


def test_the_terminal_table_explains_the_proposal_mark(make_entry):
    """† is explained under the terminal table too, in words true for any plugin's system."""
    from ascbench.leaderboard.render import PROPOSAL_NOTE

    plain = render_text(build_leaderboard([make_entry("own")], WHEN))
    assert "†" not in plain
    text = render_text(build_leaderboard([make_entry("rebuilt", proposal=True)], WHEN))
    assert "rebuilt †" in text and PROPOSAL_NOTE in text
    assert "plugin's reconstruction" in PROPOSAL_NOTE and "ascbench's" not in PROPOSAL_NOTE


def test_the_plot_legend_lists_only_the_kinds_the_board_shows(make_entry):
    """No 'failed' or 'ambiguous' marker in the legend of a board without such systems."""
    from ascbench.leaderboard.plot import _legend_handles

    ok = build_leaderboard([make_entry("a", "dcase2022"), make_entry("b", "dcase2022")], WHEN)
    labels = [h.get_label() for h in _legend_handles(ok)]
    assert "compliant" in labels and "Pareto front" in labels
    assert not any(k in " ".join(labels) for k in ("failed", "noncompliant", "degenerate"))
    mixed = build_leaderboard(
        [make_entry("a", "dcase2022"), make_entry("b", "dcase2022", error="boom"),
         make_entry("c", "dcase2022", parameters=500_000)], WHEN,
    )  # fmt: skip
    labels = [h.get_label() for h in _legend_handles(mixed)]
    assert {"compliant", "failed (no metrics)", "noncompliant"} <= set(labels)
    assert "ambiguous (limit reading)" not in labels


def test_an_outlying_log_loss_is_drawn_at_the_axis_top_with_its_value(make_entry):
    """One model at log loss 14.6 used to squash every other point to a line; it is now drawn
    at the top of a clipped axis, its value in its label."""
    from ascbench.leaderboard.plot import _panel, outlier_cap

    assert outlier_cap([1.4, 1.5, 1.6, 1.7]) is None
    assert outlier_cap([1.45, 1.50, 1.54, 1.62, 1.69, 14.59]) == pytest.approx(2.535)
    entries = [make_entry(f"s{i}", "dcase2022", log_loss=v)
               for i, v in enumerate([1.45, 1.50, 1.54, 1.62, 1.69, 14.59])]  # fmt: skip
    board = build_leaderboard(entries, WHEN)
    panel = _panel(board, "log_loss", "macs")
    assert panel.y_cap == pytest.approx(2.535) and list(panel.clipped.values()) == [14.59]
    assert max(panel.ys) == pytest.approx(2.535)
    assert _panel(board, "accuracy", "macs").y_cap is None  # accuracy is bounded: not clipped
    png, svg = render_pareto(board)
    assert png.startswith(b"\x89PNG") and "<svg" in svg


def test_the_html_page_puts_the_reports_numbers_in_a_table_of_their_own(board2021):
    """Side by side, the '(rep.)' columns made the page wider than 1,400 px (issue 17): the
    measured table keeps only measured columns, the reports' numbers follow in their own."""
    page = render_html(board2021)
    tables = re.findall(r"<table>.*?</table>", page, re.S)
    main = tables[0]
    assert "(rep.)" not in main and "Log loss" in main
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", main)
    assert len(heads) == 10 + len(board2021.ruleset.limits)
    assert "<h2>As the reports state them</h2>" in page
    reported = tables[1]
    assert "kim2021" in reported and "120,841" in reported and "68.1" in reported


def _label_boxes(fig):
    """{axes index: [(gid, text, window extent)]} of the points' labels, after drawing (the
    text's own box: an annotation's extent would include its leader line)."""
    from matplotlib.text import Text

    from ascbench.leaderboard.plot import LABEL_GID

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return {
        i: [
            (t.get_gid()[len(LABEL_GID) :], t.get_text(), Text.get_window_extent(t, renderer))
            for t in ax.texts
            if (t.get_gid() or "").startswith(LABEL_GID)
        ]
        for i, ax in enumerate(fig.axes)
    }


def test_labels_of_24_crowded_systems_do_not_overlap_and_numbered_ones_are_keyed(make_entry):
    """24 systems within 3 points of accuracy and 7 % of size: a name that does not fit beside
    its point becomes the system's row number, and the key under the legend names it."""
    import random

    from ascbench.leaderboard.plot import pareto_figure

    rnd = random.Random(0)
    entries = [
        make_entry(
            f"system_{i:02d}_proposal", "dcase2022", accuracy=10 + 3 * rnd.random(),
            log_loss=2.2 + 0.2 * rnd.random(), parameters=rnd.randint(60_000, 64_000),
            macs=rnd.randint(20_000_000, 21_000_000),
        )
        for i in range(24)
    ]  # fmt: skip
    board = build_leaderboard(entries, WHEN)
    fig = pareto_figure(board)
    panels = _label_boxes(fig)
    key = next(t.get_text() for t in fig.texts if t.get_gid() == "label-key")
    row = {r.system: n for n, r in enumerate(board.rows, 1)}
    for labels in panels.values():
        if not labels:
            continue
        assert sorted(system for system, _, _ in labels) == sorted(row)  # every point labelled
        for system, text, _ in labels:  # by its name, or by its row number and in the key
            assert text == system or (text == str(row[system]) and f"{text}\u00a0{system}" in key)
        for a in range(len(labels)):
            for b in range(a + 1, len(labels)):
                assert not labels[a][2].overlaps(labels[b][2]), (labels[a][:2], labels[b][:2])
    assert any(text != system for labels in panels.values() for system, text, _ in labels)


def test_a_few_spread_systems_are_labelled_by_name_without_a_key(board2021):
    from ascbench.leaderboard.plot import pareto_figure

    fig = pareto_figure(board2021)
    labels = [label for labels in _label_boxes(fig).values() for label in labels]
    assert labels and all(text == system for system, text, _ in labels)
    assert not any(t.get_gid() == "label-key" for t in fig.texts)


def test_a_one_seed_board_says_how_far_the_test_split_alone_moves_an_accuracy(make_entry):
    from ascbench.leaderboard.render import notes

    from .conftest import prediction_stats

    stats = prediction_stats()  # 360 clips
    one_seed = [
        make_entry(name, accuracy=acc, log_loss=ll, predictions=stats)
        for name, acc, ll in [("a", 40.0, 1.5), ("b", 50.0, 1.4), ("c", 60.0, 1.3)]
    ]
    text = notes(build_leaderboard(one_seed, WHEN))
    # binomial standard error at the median accuracy: sqrt(0.5 * 0.5 / 360) = 2.6 points
    assert any(
        line.startswith("One seed per system: on 360 test clips an accuracy near 50 % has a "
                        "standard error of about 2.6 points")
        for line in text
    )  # fmt: skip
    second = make_entry("a", seed=1, accuracy=42.0, log_loss=1.5, predictions=stats)
    several = notes(build_leaderboard([*one_seed, second], WHEN))
    assert not any(line.startswith("One seed per system") for line in several)
    assert not any(line.startswith("One seed") for line in notes(build_leaderboard(
        [make_entry("a"), make_entry("b")], WHEN)))  # fmt: skip  # no clip counts: no claim
