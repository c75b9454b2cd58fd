"""Telling a model that learned nothing from one that learned: the criteria of 'degenerate'.

An entry is *degenerate* when the predictions of its final model on the test split meet any
of these criteria (judged from the evidence in ``metrics.predictions``, so anyone can redo the
judgement from the entry file alone):

1. **collapse onto one class**: one class is the predicted class of at least
   :data:`ONE_CLASS_PERCENT` % of the clips;
2. **collapse onto two classes**: with at least :data:`TWO_CLASSES_MIN_CLASSES` classes, the
   two most predicted classes together take at least :data:`TWO_CLASSES_PERCENT` % of the clips
   (reported only when 1. does not hold);
3. **log loss above chance's**: the headline log loss (mean of the class-wise log losses) is
   greater than ``ln(classes)``, what predicting ``1 / classes`` for every class scores;
4. **accuracy not above chance**: the one-sided exact binomial test of the number of correct
   clips against chance (``p = 1 / classes``) gives a p-value above :data:`ALPHA`. (On the
   balanced DCASE test splits the share of correct clips is the macro accuracy.)

A clip's predicted class is its top probability's class; when classes tie exactly for the top
probability, the lowest class index wins (``numpy.argmax``), and ``metrics.predictions.tied``
counts those clips. The shares compare as integers (``100 * count >= percent * clips``), so
no rounding decides. The p-value is computed when the model is evaluated
(:func:`ascbench.evaluation.metrics.binomial_p_value`, ``scipy.stats.binomtest``) and stored
with the counts it comes from. Entries without this evidence (schema 1 and 2, written before
it existed) are not judged: re-run them to have them judged.

Status: an entry that fails to run is 'failed'; one that breaks a limit is 'noncompliant' (and
``degenerate`` still lists its reasons); otherwise a degenerate one is 'degenerate', and one
that learned is 'ok'. On a board every system that learned comes before every degenerate one
(see :func:`ascbench.leaderboard.board.rank_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

#: Collapse onto one class: it is predicted for at least this percentage of the clips.
ONE_CLASS_PERCENT = 80
#: Collapse onto two classes: together they are predicted for at least this percentage.
TWO_CLASSES_PERCENT = 95
#: The two-class criterion needs at least this many classes (with 2-4 classes, two of them
#: are too large a part of all to call a model that predicts only those collapsed).
TWO_CLASSES_MIN_CLASSES = 5
#: Significance level of the one-sided binomial test of the accuracy against chance: a
#: p-value above it means the accuracy is not significantly above chance.
ALPHA = 0.01


def _quote(name: str) -> str:
    return f"'{name}'"


def _two_numbers(value: float, reference: float) -> tuple[str, str]:
    """Both numbers with 3 decimals, or more when 3 would print them equal."""
    digits = 3
    while f"{value:.{digits}f}" == f"{reference:.{digits}f}" and digits < 9:
        digits += 1
    return f"{value:.{digits}f}", f"{reference:.{digits}f}"


def _p_value(p: float) -> str:
    """``p`` with 2 significant digits, or more when 2 would print it as :data:`ALPHA`."""
    digits = 2
    while f"{p:.{digits}g}" == f"{ALPHA:g}" and p != ALPHA and digits < 9:
        digits += 1
    return f"{p:.{digits}g}"


def degeneracy_reasons(
    *,
    predicted: Mapping[str, int],
    clips: int,
    correct: int,
    binomial_p: float,
    log_loss: float,
) -> list[str]:
    """One sentence per criterion the predictions meet (empty: the model learned).

    ``predicted`` maps every class, in class order, to the clips predicted as it; ``clips`` and
    ``correct`` count all and correctly predicted clips; ``binomial_p`` is the one-sided exact
    binomial p-value of ``correct`` against chance; ``log_loss`` is the headline log loss.
    """
    classes = len(predicted)
    reasons = []
    # most predicted first; equal counts in class order (sorted() is stable)
    ranked = sorted(predicted.items(), key=lambda item: -item[1])
    top_name, top = ranked[0]
    if 100 * top >= ONE_CLASS_PERCENT * clips:
        reasons.append(
            f"predicts {_quote(top_name)} for {top} of {clips} clips "
            f"({100 * top / clips:.1f} % ≥ {ONE_CLASS_PERCENT} %)"
        )
    elif classes >= TWO_CLASSES_MIN_CLASSES:
        (first, a), (second, b) = ranked[0], ranked[1]
        if 100 * (a + b) >= TWO_CLASSES_PERCENT * clips:
            reasons.append(
                f"predicts {_quote(first)} or {_quote(second)} for {a + b} of {clips} clips "
                f"({100 * (a + b) / clips:.1f} % ≥ {TWO_CLASSES_PERCENT} %)"
            )
    chance_loss = math.log(classes)
    if log_loss > chance_loss:
        loss, chance = _two_numbers(log_loss, chance_loss)
        reasons.append(f"log loss {loss} > ln {classes} = {chance}")
    if binomial_p > ALPHA:
        p = _p_value(binomial_p)
        reasons.append(
            f"accuracy {100 * correct / clips:.1f} % ({correct} of {clips} clips) is not above "
            f"chance {100 / classes:.1f} % (one-sided binomial p = {p} > {ALPHA})"
        )
    return reasons
