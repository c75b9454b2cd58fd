"""Status 'degenerate': a model whose predictions show it learned nothing is caught, recorded
with its reasons, ranked after every system that learned, and shown on every board and plot.

The entries here come from per-clip predictions through the run's own path: ``evaluate()`` on
a model whose logits are given, ``stages.entry_metrics()`` and ``build_entry()``.
"""

from __future__ import annotations

import html
import math
import re
from datetime import datetime, timezone

import numpy as np
import pytest
import torch

from ascbench.leaderboard import build_entry, build_leaderboard, render_html, render_markdown
from ascbench.leaderboard.degeneracy import (
    ALPHA,
    ONE_CLASS_PERCENT,
    TWO_CLASSES_PERCENT,
    degeneracy_reasons,
)
from ascbench.leaderboard.entry import SCHEMA_VERSION
from ascbench.leaderboard.render import render_text
from ascbench.scenes import DEVICES, SCENES
from tests.leaderboard.conftest import RULESETS, collapsed, make_entry, prediction_stats

WHEN = datetime(2024, 6, 1, tzinfo=timezone.utc)
N = 360
LABELS = np.repeat(np.arange(10), N // 10)  # the balanced 360-clip test split
METRO = SCENES.index("metro")


class GivenLogits(torch.nn.Module):
    """Returns the logits stored in the features: x[:, 0, :, 0]."""

    def forward(self, x):
        return x[:, 0, :, 0]


def entry_from_probabilities(
    name: str, probabilities: np.ndarray, *, parameters: int = 30_000, seed: int = 0
):
    """The entry ``ascbench run`` writes for a model with these per-clip probabilities."""
    from ascbench.evaluation import evaluate
    from ascbench.jobs.stages import entry_metrics as _metrics
    from ascbench.training import TensorClips

    logits = torch.from_numpy(np.log(probabilities)).float()[:, None, :, None]
    clips = TensorClips(
        logits,
        torch.from_numpy(LABELS),
        [DEVICES[i % 9] for i in range(N)],
        [f"audio/{i}.wav" for i in range(N)],
    )
    result, _ = evaluate(GivenLogits(), clips, batch_size=90)
    base = make_entry(name, parameters=parameters, seed=seed)
    return build_entry(
        system=base.system,
        ruleset=RULESETS["dcase2021"],
        seed=seed,
        provenance=base.provenance,
        complexity=base.complexity,
        metrics=_metrics(result),
    )


def one_class(scene: int = METRO, confidence: float = 0.9999) -> np.ndarray:
    """Every clip: ``scene`` with ``confidence``, the rest shared evenly."""
    p = np.full((N, 10), (1 - confidence) / 9)
    p[:, scene] = confidence
    return p


def soft_one_class() -> np.ndarray:
    """'metro' on top for every clip (0.2), but the true class second (0.15): a log loss
    well below chance's, so only the predicted classes and the accuracy give it away."""
    p = np.full((N, 10), 0.65 / 8)
    p[np.arange(N), LABELS] = 0.15
    p[:, METRO] = 0.2
    p[LABELS == METRO] = 0.8 / 9
    p[LABELS == METRO, METRO] = 0.2
    return p


def learned(correct: int, top: float = 0.35) -> np.ndarray:
    """``correct`` clips right (evenly over the classes), the others wrong with their top
    class spread over the other nine: diverse predictions."""
    rest = (1 - top) / 9
    p = np.full((N, 10), rest)
    right = np.zeros(N, dtype=bool)
    for k in range(10):
        clips = np.flatnonzero(LABELS == k)
        right[clips[: correct // 10 + (k < correct % 10)]] = True
    wrong = np.flatnonzero(~right)
    p[right, LABELS[right]] = top
    p[wrong, (LABELS[wrong] + 1 + np.arange(len(wrong)) % 9) % 10] = top
    return p


@pytest.fixture(scope="module")
def entries():
    return {
        "learned40": entry_from_probabilities("learned40", learned(144)),
        "weak30": entry_from_probabilities("weak30", learned(108)),
        "collapsed": entry_from_probabilities("collapsed", one_class()),
        "soft_collapsed": entry_from_probabilities("soft_collapsed", soft_one_class()),
        "fat": entry_from_probabilities("fat", learned(144), parameters=200_000),
        "fat_collapsed": entry_from_probabilities("fat_collapsed", one_class(), parameters=200_000),
    }


@pytest.fixture(scope="module")
def board(entries):
    return build_leaderboard([*entries.values(), make_entry("dead", error="boom")], WHEN)


# -- the entry ---------------------------------------------------------------------------------


def test_one_class_for_every_clip_is_degenerate(entries):
    e = entries["collapsed"]
    assert e.status == "degenerate" and e.schema_version == SCHEMA_VERSION and e.verify()
    stats = e.metrics.predictions
    assert stats.predicted == {s: (N if s == "metro" else 0) for s in SCENES}
    assert (stats.clips, stats.correct, stats.tied) == (360, 36, 0)
    assert stats.top_share == 1.0 and stats.top_two_share == 1.0
    assert 0.4 < stats.binomial_p < 0.6
    log_loss = 0.9 * -math.log(0.0001 / 9) + 0.1 * -math.log(0.9999)
    assert e.metrics.log_loss == pytest.approx(log_loss, rel=1e-5)
    assert e.degenerate == [
        "predicts 'metro' for 360 of 360 clips (100.0 % ≥ 80 %)",
        f"log loss {e.metrics.log_loss:.3f} > ln 10 = 2.303",
        f"accuracy 10.0 % (36 of 360 clips) is not above chance 10.0 % (one-sided binomial "
        f"p = {stats.binomial_p:.2g} > 0.01)",
    ]
    assert e.reason == "; ".join(e.degenerate)


def test_a_model_that_learned_is_not_degenerate(entries):
    for name in ("learned40", "weak30"):
        e = entries[name]
        assert e.status == "ok" and e.degenerate == [] and e.reason == "", name
        assert e.metrics.log_loss < math.log(10)
        assert e.metrics.predictions.binomial_p < ALPHA
        assert e.metrics.predictions.top_share <= 0.2
    assert entries["learned40"].metrics.accuracy == pytest.approx(40.0)
    assert entries["learned40"].metrics.predictions.correct == 144


def test_collapse_alone_catches_a_calibrated_looking_model(entries):
    e = entries["soft_collapsed"]
    assert e.metrics.log_loss < entries["weak30"].metrics.log_loss < math.log(10)
    assert e.status == "degenerate"
    assert [r.split(" ")[0] for r in e.degenerate] == ["predicts", "accuracy"]


def test_noncompliant_and_degenerate_keeps_both(entries):
    e = entries["fat_collapsed"]
    assert e.status == "noncompliant" and e.verify()
    assert e.reason == "bytes 800,000 > 128,000 (fail)"
    assert e.degenerate[0] == "predicts 'metro' for 360 of 360 clips (100.0 % ≥ 80 %)"
    assert entries["fat"].status == "noncompliant" and entries["fat"].degenerate == []


@pytest.mark.parametrize(
    "predicted, expected",
    [
        ({"metro": 288, "park": 72}, ["predicts 'metro' for 288 of 360 clips (80.0 % ≥ 80 %)"]),
        (
            {"metro": 287, "park": 73},  # 79.7 %: not one class, but two
            ["predicts 'metro' or 'park' for 360 of 360 clips (100.0 % ≥ 95 %)"],
        ),
        ({"metro": 287, "park": 37, "bus": 36}, []),  # 79.7 %, two 90.0 %
        (
            {"metro": 250, "park": 92, "bus": 18},
            ["predicts 'metro' or 'park' for 342 of 360 clips (95.0 % ≥ 95 %)"],
        ),
        ({"metro": 250, "park": 91, "bus": 19}, []),  # two 94.7 %
        (
            {"park": 171, "airport": 171, "bus": 18},  # equal counts: class order decides
            ["predicts 'airport' or 'park' for 342 of 360 clips (95.0 % ≥ 95 %)"],
        ),
    ],
)
def test_collapse_thresholds_are_inclusive_and_exact(predicted, expected):
    assert ONE_CLASS_PERCENT == 80 and TWO_CLASSES_PERCENT == 95
    counts = {s: predicted.get(s, 0) for s in SCENES}
    got = degeneracy_reasons(predicted=counts, clips=360, correct=144, binomial_p=0.0, log_loss=1)
    assert got == expected
    spread = {s: 36 for s in SCENES}
    assert (
        degeneracy_reasons(predicted=spread, clips=360, correct=144, binomial_p=0.0, log_loss=1)
        == []
    )


def test_two_class_collapse_needs_five_classes():
    three = {"indoor": 180, "outdoor": 175, "transportation": 5}
    assert (
        degeneracy_reasons(predicted=three, clips=360, correct=200, binomial_p=0, log_loss=1) == []
    )
    five = {**three, "a": 0, "b": 0}
    assert degeneracy_reasons(predicted=five, clips=360, correct=200, binomial_p=0, log_loss=1)


def test_log_loss_and_binomial_boundaries():
    spread = {s: 36 for s in SCENES}

    def reasons(log_loss, p):
        return degeneracy_reasons(
            predicted=spread, clips=360, correct=60, binomial_p=p, log_loss=log_loss
        )

    assert reasons(math.log(10), ALPHA) == []  # equal to chance's log loss, p at alpha: fine
    assert reasons(2.3027, 0.0) == ["log loss 2.3027 > ln 10 = 2.3026"]  # digits to tell apart
    assert reasons(1.0, 0.0101) == [
        "accuracy 16.7 % (60 of 360 clips) is not above chance 10.0 % (one-sided binomial "
        "p = 0.0101 > 0.01)"
    ]


def test_ties_are_reported_in_the_entry():
    p = learned(144)
    p[:34] = 0.1  # 34 clips: all ten classes tie, so the lowest index, airport, is predicted
    e = entry_from_probabilities("ties", p)
    assert e.metrics.predictions.tied == 34
    assert e.metrics.predictions.predicted["airport"] >= 34
    board = build_leaderboard([e], WHEN)
    note = "note: top probability tied in 34 of 360 clips (the lowest class index among the tied"
    assert note in render_markdown(board)


# -- the board ---------------------------------------------------------------------------------


def test_degenerate_systems_rank_below_every_system_that_learned(board, entries):
    order = [(r.rank, r.system, r.status) for r in board.rows]
    assert order == [
        (1, "learned40", "ok"),
        (2, "weak30", "ok"),
        (None, "fat", "noncompliant"),
        (None, "soft_collapsed", "degenerate"),  # better log loss than weak30, still below
        (None, "collapsed", "degenerate"),
        (None, "fat_collapsed", "noncompliant"),
        (None, "dead", "failed"),
    ]
    rows = {r.system: r for r in board.rows}
    assert rows["soft_collapsed"].log_loss.mean < rows["weak30"].log_loss.mean
    assert rows["collapsed"].degenerate == entries["collapsed"].degenerate
    assert rows["collapsed"].reasons == []
    assert rows["fat_collapsed"].reasons == ["bytes 800,000 > 128,000 (fail)"]
    assert rows["fat_collapsed"].degenerate == entries["fat_collapsed"].degenerate


def test_one_degenerate_seed_makes_the_system_degenerate():
    good = entry_from_probabilities("flaky", learned(144), seed=0)
    bad = entry_from_probabilities("flaky", one_class(), seed=1)
    other = entry_from_probabilities("steady", learned(108))
    board = build_leaderboard([good, bad, other], WHEN)
    flaky = next(r for r in board.rows if r.system == "flaky")
    assert flaky.status == "degenerate" and flaky.rank is None
    assert flaky.degenerate[0] == "seed 1: predicts 'metro' for 360 of 360 clips (100.0 % ≥ 80 %)"
    assert [r.system for r in board.rows] == ["steady", "flaky"]


# -- every rendering ---------------------------------------------------------------------------

REASON = "predicts 'metro' for 360 of 360 clips (100.0 % ≥ 80 %)"


def test_html_shows_status_and_reason(board):
    page = render_html(board)
    assert '<td class="degenerate">degenerate</td>' in page
    assert '<td class="noncompliant degenerate">noncompliant, degenerate</td>' in page
    assert f"<li>degenerate: {html.escape(REASON)}</li>" in page
    assert "every degenerate one after every system that learned" in page
    assert html.escape("one class predicted for ≥ 80 % of the clips") in page
    # the rows keep the board's order
    cells = re.findall(r"<tr><td class=\"num\">[^<]*</td><td>([^<]+)</td>", page)
    assert cells[:7] == [r.system for r in board.rows]


def test_markdown_shows_status_and_reason(board):
    md = render_markdown(board)
    rows = {
        cells[1]: cells
        for line in md.splitlines()
        if line.startswith("| ")
        for cells in [[c.strip() for c in line.strip("|").split(" | ")]]
    }
    assert rows["collapsed"][0] == "—" and rows["collapsed"][3] == "**degenerate**"
    assert rows["fat_collapsed"][3] == "**noncompliant, degenerate**"
    assert rows["learned40"][3] == "ok"
    provenance = md[md.index("## Provenance") :]
    assert "| fat_collapsed | 0 | **noncompliant, degenerate** |" in provenance
    assert "| collapsed | 0 | **degenerate** |" in provenance
    assert f"  - degenerate: {REASON}" in md
    assert "- **collapsed**" in md


def test_terminal_shows_status_and_reason(board):
    text = render_text(board)
    assert re.search(r"^—\s+collapsed\s+1\s+degenerate\s", text, re.M)
    assert "Degenerate (learned nothing):" in text
    assert f"  collapsed: {REASON}; log loss" in text
    clean = build_leaderboard([make_entry("a")], WHEN)
    assert "Degenerate" not in render_text(clean)


def _gids(fig) -> set[str]:
    return {a.get_gid() for ax in fig.axes for a in ax.collections if a.get_gid()}


def test_plot_marks_degenerate_systems_with_a_legend_entry_and_reasons(board):
    from ascbench.leaderboard.plot import STYLES, pareto_figure

    fig = pareto_figure(board)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "degenerate (learned nothing)" in legend
    gids = [a.get_gid() for ax in fig.axes for a in ax.collections if a.get_gid()]
    for name in ("collapsed", "soft_collapsed", "fat_collapsed"):
        assert gids.count(f"point-degenerate-{name}") == 4, name
    assert gids.count("point-pass-learned40") == 4
    assert not any(g.startswith("front-") and "collapsed" in g for g in gids)
    marker = {
        a.get_gid(): a.get_paths()[0].vertices.round(3).tolist() for a in fig.axes[0].collections
    }
    assert marker["point-degenerate-collapsed"] != marker["point-pass-learned40"]
    assert STYLES["degenerate"]["marker"] not in {
        s["marker"] for k, s in STYLES.items() if k != "degenerate"
    }
    texts = [t.get_text() for t in fig.texts if t.get_gid() == "degenerate-reasons"]
    assert len(texts) == 1 and f"collapsed: {REASON}" in texts[0]

    clean = pareto_figure(build_leaderboard([make_entry("a"), make_entry("b")], WHEN))
    legend = [t.get_text() for t in clean.legends[0].get_texts()]
    assert "degenerate (learned nothing)" not in legend and "compliant" in legend
    assert not [t for t in clean.texts if t.get_gid() == "degenerate-reasons"]
    assert not any("degenerate" in g for g in _gids(clean))


def test_publish_accepts_and_shows_degenerate_entries(tmp_path, board, capsys):
    from ascbench import cli
    from ascbench.leaderboard import ResultStore, read_board

    store = ResultStore(tmp_path / "results")
    for entry in board.entries:
        store.write(entry)
    out = tmp_path / "published"
    assert cli.main(["leaderboard", "publish", str(store.root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(2 ok, 2 degenerate, 2 noncompliant, 1 failed)" in printed
    again = read_board(out / "dcase2021.json")
    assert [r.status for r in again.rows] == [r.status for r in board.rows]
    page = (out / "dcase2021.html").read_text(encoding="utf-8")
    assert html.escape(REASON) in page
    svg = (out / "pareto-dcase2021.svg").read_text(encoding="utf-8")
    assert 'id="point-degenerate-collapsed"' in svg
    assert "<!-- degenerate (learned nothing) -->" in svg


def test_entry_without_evidence_is_not_judged():
    """Entries of schema 1/2 and entries built without per-clip predictions carry no
    metrics.predictions: their status stays as the limits give it."""
    e = make_entry("old", log_loss=5.0, accuracy=10.0)
    assert e.metrics.predictions is None and e.status == "ok" and e.degenerate == []
    judged = make_entry("new", log_loss=5.0, accuracy=10.0, predictions=prediction_stats())
    assert judged.status == "degenerate"
    assert judged.degenerate == ["log loss 5.000 > ln 10 = 2.303"]
    assert make_entry("c", predictions=collapsed()).status == "degenerate"
