"""The leaderboard of one rule set: entries, aggregated per system and ranked.

Entries are grouped per system (several seeds per system are possible); each system gets one
:class:`BoardRow` with the mean ± std of its metrics over the seeds that finished. Compliant
systems that learned ('ok') are ranked by the rule set's primary metric (log loss ascending,
or accuracy descending) with the other metric as tie-break. The others follow without a rank,
in this order: noncompliant systems that learned, degenerate ones (their predictions show that
they learned nothing, :mod:`ascbench.leaderboard.degeneracy`), noncompliant and degenerate
ones, then failed ones; so every degenerate system comes after every system that learned.

:func:`merge` reads result directories, entry files and leaderboard files, verifies every
entry hash and resolves duplicates of the same (system, ruleset, seed).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator

from ascbench.errors import describe_problem
from ascbench.leaderboard._io import atomic_write_text, is_temp_file, read_json
from ascbench.leaderboard.entry import (
    SCHEMA_VERSION,
    ComplianceStatus,
    LeaderboardEntry,
    LeaderboardError,
    RuleSetInfo,
    Status,
    _Strict,
    parse_entry,
    utc_now,
)
from ascbench.leaderboard.store import ResultStore
from ascbench.rules import Quantity
from ascbench.systems import ReportedResults

#: Worst status first wins when a system's seeds differ: failed > noncompliant > degenerate > ok.
_STATUS_ORDER = {"ok": 0, "degenerate": 1, "noncompliant": 2, "failed": 3}
_COMPLIANCE_ORDER = {"pass": 0, "ambiguous": 1, "fail": 2}


#: Confidence level of :attr:`Stat.ci95`.
CI_LEVEL = 0.95


#: The range each aggregated metric can take; confidence intervals are clipped to it.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 100.0),
    "log_loss": (0.0, math.inf),
}


def confidence_interval(
    mean: float, std: float | None, n: int, level: float = CI_LEVEL,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> tuple[float, float] | None:  # fmt: skip
    """Two-sided ``level`` confidence interval of a mean of ``n`` values with sample standard
    deviation ``std`` (Student t, n - 1 degrees of freedom), clipped to ``bounds`` (an
    accuracy's interval never leaves 0-100 %); None for fewer than two values."""
    if std is None or n < 2:
        return None
    from scipy.stats import t

    half = float(t.ppf((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    low, high = bounds
    return (max(low, mean - half), min(high, mean + half))


class Stat(_Strict):
    """A metric over seeds: mean, sample std and 95 % CI of the mean (None for one seed), count."""

    mean: float
    std: float | None = None
    n: int = Field(ge=1)
    ci95: tuple[float, float] | None = Field(
        None,
        description="95 % confidence interval of the mean (Student t, n - 1 degrees of "
        "freedom), derived from mean, std and n, clipped to value_range; None "
        "for one seed.",
    )
    value_range: tuple[float, float | None] | None = Field(
        None,
        description="Values the metric can take, [low, high] (high null: unbounded); the "
        "interval is clipped to it. Null: unbounded.",
    )

    @model_validator(mode="after")
    def _derive_ci(self) -> Stat:
        # derived, never trusted from input: boards written before it existed still validate
        low, high = self.value_range or (None, None)
        bounds = (-math.inf if low is None else low, math.inf if high is None else high)
        object.__setattr__(
            self, "ci95", confidence_interval(self.mean, self.std, self.n, bounds=bounds)
        )
        return self

    def format(self, digits: int, *, ci: bool = False) -> str:
        """'0.912' for one seed, '0.912 ± 0.013' for several, '0.912 ± 0.013 [0.880, 0.944]'
        with ``ci`` (the 95 % confidence interval of the mean)."""
        text = f"{self.mean:.{digits}f}"
        if self.std is None:
            return text
        text += f" ± {self.std:.{digits}f}"
        if ci and self.ci95 is not None:
            low, high = self.ci95
            text += f" [{low:.{digits}f}, {high:.{digits}f}]"
        return text


def aggregate(values: Sequence[float], metric: str | None = None) -> Stat:
    """Mean, sample standard deviation (n - 1) and 95 % confidence interval of the mean of
    per-seed values, the interval clipped to the range of ``metric`` (:data:`METRIC_RANGES`)."""
    if not values:
        raise ValueError("aggregate() needs at least one value")
    mean = math.fsum(values) / len(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    bounds = METRIC_RANGES.get(metric or "")
    span = None if bounds is None else (bounds[0], None if math.isinf(bounds[1]) else bounds[1])
    return Stat(mean=mean, std=std, n=len(values), value_range=span)


class BoardRow(_Strict):
    """One system on the board, aggregated over its seeds."""

    rank: int | None = Field(
        description="1 = best; None for degenerate, noncompliant and failed systems."
    )
    system: str
    title: str
    proposal: bool = False
    deviations: list[str] = Field(
        default_factory=list, description="Where the system departs from its report."
    )
    status: Status = Field(
        description="'failed' if every seed failed, else 'noncompliant' if any seed breaks a "
        "limit, else 'degenerate' if any seed learned nothing, else 'ok'."
    )
    compliance: ComplianceStatus | None = Field(None, description="Worst over finished seeds.")
    seeds: list[int] = Field(description="All seeds with an entry.")
    failed_seeds: list[int] = Field(default_factory=list)
    log_loss: Stat | None = None
    accuracy: Stat | None = None
    parameters: int | None = Field(
        None,
        description="Largest value over finished seeds (over failed seeds when none finished).",
    )
    nonzero_parameters: int | None = None
    bytes: int | None = None
    macs: int | None = None
    complexity_varies: bool = Field(False, description="Complexity differs between seeds.")
    limits: dict[str, ComplianceStatus] = Field(
        default_factory=dict, description="Worst status per limited quantity."
    )
    reported: ReportedResults | None = None
    reasons: list[str] = Field(
        default_factory=list,
        description="Distinct reasons of failure, noncompliance or ambiguity (degenerate "
        "reasons are in degenerate).",
    )
    degenerate: list[str] = Field(
        default_factory=list,
        description="Distinct reasons why finished seeds learned nothing ('seed k: …' with "
        "several seeds); non-empty rows come after every row that learned.",
    )
    flags: list[str] = Field(default_factory=list, description="Distinct complexity flags.")
    entry_hashes: list[str] = Field(description="Hashes of the entries, in seed order.")


def _worst(statuses: Iterable[str], order: dict[str, int]) -> Any:
    items = list(statuses)
    return max(items, key=order.__getitem__) if items else None


def _other_reason(entry: LeaderboardEntry) -> str:
    """The entry's reason without its degenerate reasons (a degenerate entry's reason starts
    with them; the board lists them apart)."""
    if entry.status != "degenerate" or entry.compliance is None:
        return entry.reason
    return entry.compliance.describe_failures()


def _sizes(
    done: list[LeaderboardEntry], failed: list[LeaderboardEntry]
) -> tuple[dict[str, int | None], bool]:
    """The largest of each complexity quantity over the finished seeds (over the failed ones
    when none finished), and whether any of them differs between seeds."""
    measured = [e for e in done if e.complexity] or [e for e in failed if e.complexity]
    sizes: dict[str, int | None] = {}
    varies = False
    for quantity in ("parameters", "nonzero_parameters", "bytes", "macs"):
        values = [getattr(e.complexity, quantity) for e in measured]
        sizes[quantity] = max(values) if values else None
        varies = varies or len(set(values)) > 1
    return sizes, varies


def _worst_limits(done: list[LeaderboardEntry]) -> dict[str, ComplianceStatus]:
    """The worst status of each limited quantity over the finished seeds."""
    limits: dict[str, list[str]] = defaultdict(list)
    for e in done:
        for check in e.compliance.checks if e.compliance else []:
            limits[check.quantity].append(check.status)
    return {q: _worst(s, _COMPLIANCE_ORDER) for q, s in limits.items()}


def _distinct(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in first-seen order."""
    return list(dict.fromkeys(items))


def _degenerate_reasons(done: list[LeaderboardEntry], several: bool) -> list[str]:
    """Why finished seeds learned nothing, each prefixed with its seed when there are several."""
    return _distinct(f"seed {e.seed}: {d}" if several else d for e in done for d in e.degenerate)


def _metric(done: list[LeaderboardEntry], name: str) -> Stat | None:
    """The mean (with spread) of metric ``name`` over the finished seeds."""
    return aggregate([getattr(e.metrics, name) for e in done if e.metrics], name) if done else None


def _row_status(done: list[LeaderboardEntry]) -> Status:
    return "failed" if not done else _worst((e.status for e in done), _STATUS_ORDER)


def _row(entries: list[LeaderboardEntry]) -> BoardRow:
    entries = sorted(entries, key=lambda e: e.seed)
    first = entries[0]
    done = [e for e in entries if e.status != "failed"]
    failed = [e for e in entries if e.status == "failed"]
    sizes, varies = _sizes(done, failed)
    return BoardRow(
        rank=None,
        system=first.system.name,
        title=first.system.title,
        proposal=first.system.proposal,
        deviations=list(first.system.deviations),
        status=_row_status(done),
        compliance=_worst((e.compliance.status for e in done if e.compliance), _COMPLIANCE_ORDER),
        seeds=[e.seed for e in entries],
        failed_seeds=[e.seed for e in failed],
        log_loss=_metric(done, "log_loss"),
        accuracy=_metric(done, "accuracy"),
        complexity_varies=varies,
        limits=_worst_limits(done),
        reported=next((e.reported for e in entries if e.reported is not None), None),
        reasons=_distinct(r for e in entries for r in [_other_reason(e)] if r),
        degenerate=_degenerate_reasons(done, several=len(entries) > 1),
        flags=_distinct(f for e in done if e.complexity for f in e.complexity.flags),
        entry_hashes=[e.entry_hash or "" for e in entries],
        **sizes,
    )


def rank_rows(rows: list[BoardRow], primary: str) -> list[BoardRow]:
    """Rows sorted and ranked: 'ok' by primary metric (ties share a rank), then without a rank
    noncompliant rows that learned, degenerate rows, noncompliant degenerate rows and failed
    rows (each group by the metric, then name): every degenerate row comes after every row
    that learned."""

    def metric_key(row: BoardRow) -> tuple:
        if row.log_loss is None or row.accuracy is None:
            return (math.inf, math.inf)
        loss, acc = row.log_loss.mean, -row.accuracy.mean
        return (loss, acc) if primary == "log_loss" else (acc, loss)

    def group(row: BoardRow) -> tuple[bool, bool, bool]:
        return (row.status == "failed", bool(row.degenerate), row.status == "noncompliant")

    ordered = sorted(rows, key=lambda r: (group(r), metric_key(r), r.system))
    ranked: list[BoardRow] = []
    previous: tuple | None = None
    rank = 0
    for position, row in enumerate(ordered, start=1):
        if row.status != "ok":
            ranked.append(row.model_copy(update={"rank": None}))
            continue
        key = metric_key(row)
        if key != previous:
            rank, previous = position, key
        ranked.append(row.model_copy(update={"rank": rank}))
    return ranked


def build_rows(entries: list[LeaderboardEntry], primary: str) -> list[BoardRow]:
    """Group entries per system and rank the resulting rows."""
    by_system: dict[str, list[LeaderboardEntry]] = defaultdict(list)
    for entry in entries:
        by_system[entry.system.name].append(entry)
    return rank_rows([_row(group) for group in by_system.values()], primary)


class Leaderboard(_Strict):
    """The leaderboard of one rule set: its entries and the ranked rows derived from them."""

    schema_version: Literal[1, 2, 3, 4, 5] = Field(SCHEMA_VERSION)
    ruleset: RuleSetInfo
    generated_at: AwareDatetime
    entries: list[LeaderboardEntry] = Field(description="Sorted by (system, seed).")
    rows: list[BoardRow] = Field(
        default_factory=list,
        description="Derived from entries (filled in when absent; must match when present).",
    )

    @field_validator("entries")
    @classmethod
    def _sorted(cls, entries: list[LeaderboardEntry]) -> list[LeaderboardEntry]:
        return sorted(entries, key=lambda e: (e.system.name, e.seed))

    @model_validator(mode="after")
    def _check(self) -> Leaderboard:
        seen: set[tuple] = set()
        for entry in self.entries:
            if entry.ruleset != self.ruleset:
                raise ValueError(
                    f"entry {entry.label()} was measured under a different rule set "
                    f"{entry.ruleset.name!r} than the board's {self.ruleset.name!r}"
                )
            if entry.key in seen:
                raise ValueError(f"{entry.label()} appears twice")
            seen.add(entry.key)
            if not entry.verify():
                raise ValueError(f"entry {entry.label()} does not match its entry_hash")
        rows = build_rows(self.entries, self.ruleset.primary_metric)
        if not self.rows:
            object.__setattr__(self, "rows", rows)
        elif self.rows != rows:
            raise ValueError(
                "rows do not match the entries (edited by hand?); regenerate the board with "
                "`ascbench leaderboard merge`"
            )
        return self

    @property
    def name(self) -> str:
        return self.ruleset.name

    def limit_quantities(self) -> list[Quantity]:
        """The limited quantities, in the rule set's order."""
        return [lim.quantity for lim in self.ruleset.limits]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the board as JSON, atomically."""
        return atomic_write_text(path, self.to_json())


def build_leaderboard(
    entries: Iterable[LeaderboardEntry], generated_at: datetime | None = None
) -> Leaderboard:
    """The board of entries that all share one rule set."""
    entries = list(entries)
    if not entries:
        raise LeaderboardError("no entries to build a leaderboard from")
    infos = {e.ruleset.model_dump_json(): e for e in entries}
    if len(infos) > 1:
        names = sorted({e.ruleset.name for e in entries})
        raise LeaderboardError(
            f"entries of several rule sets ({', '.join(names)}) or of different versions of "
            "one rule set were given to one board; use group_by_ruleset()"
        )
    try:
        return Leaderboard(
            ruleset=entries[0].ruleset, generated_at=generated_at or utc_now(), entries=entries
        )
    except ValidationError as exc:
        raise LeaderboardError(f"cannot build the leaderboard {describe_problem(exc)}") from exc


def entries_by_ruleset(entries: Iterable[LeaderboardEntry]) -> dict[str, list[LeaderboardEntry]]:
    """``entries`` by the name of their rule set, in the order given within each rule set."""
    grouped: dict[str, list[LeaderboardEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.ruleset.name].append(entry)
    return dict(grouped)


def group_by_ruleset(
    entries: Iterable[LeaderboardEntry], generated_at: datetime | None = None
) -> dict[str, Leaderboard]:
    """One board per rule set name, sorted by name."""
    grouped = entries_by_ruleset(entries)
    generated_at = generated_at or utc_now()
    boards = {}
    for name in sorted(grouped):
        variants = {e.ruleset.model_dump_json() for e in grouped[name]}
        if len(variants) > 1:
            raise LeaderboardError(
                f"rule set {name!r}: entries were measured under different definitions of it "
                "(limits or metric differ); keep the entries of one definition only"
            )
        boards[name] = build_leaderboard(grouped[name], generated_at)
    return boards


# -- reading inputs and merging -----------------------------------------------------------------


#: The schema file of a published leaderboard directory (``ascbench leaderboard publish``).
SCHEMA_FILE = "schema.json"


def board_files(directory: str | Path) -> list[Path]:
    """The leaderboard files directly in ``directory``, sorted.

    These are the ``leaderboard-<ruleset>.json`` files of ``merge`` and ``render`` and, in a
    published leaderboard directory (one holding :data:`SCHEMA_FILE`), every other ``*.json``
    file (``<ruleset>.json``). Temporaries of interrupted writes are skipped.
    """
    directory = Path(directory)
    files = set(directory.glob("leaderboard-*.json"))
    if (directory / SCHEMA_FILE).is_file():
        files |= {p for p in directory.glob("*.json") if p.name != SCHEMA_FILE}
    return sorted(p for p in files if p.is_file() and not is_temp_file(p))


def read_board(path: str | Path) -> Leaderboard:
    """Read and validate a leaderboard JSON file (every entry hash is verified)."""
    path = Path(path)
    data = read_json(path, LeaderboardError)
    return _board_from_data(data, str(path))


def _board_from_data(data: Any, source: str) -> Leaderboard:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise LeaderboardError(f"{source}: not a leaderboard file (no 'entries' list)")
    for i, item in enumerate(data["entries"]):
        parse_entry(item, f"{source} (entry {i})")  # one-line errors naming the entry
    try:
        return Leaderboard.model_validate(data)
    except ValidationError as exc:
        problem = describe_problem(exc)
        raise LeaderboardError(f"{source}: not a valid leaderboard {problem}") from exc


def read_input(path: str | Path, *, errors: list[str] | None = None) -> list[LeaderboardEntry]:
    """Entries from a results directory, an entry file or a leaderboard file.

    A directory contributes its ``<ruleset>/<system>/seed<k>.json`` files; only a directory
    without any holds boards, and then its :func:`board_files` are read (a board next to a
    store is derived from it and may be stale). With ``errors`` (lenient mode) bad files are
    skipped and described there; otherwise the first bad file raises.
    """
    path = Path(path)
    if path.is_dir():
        store = ResultStore(path)
        if store.entry_files():
            return store.load_all(errors=errors)
        entries = []
        for board_file in board_files(path):
            entries.extend(read_input(board_file, errors=errors))
        if not entries and errors is None:
            raise LeaderboardError(
                f"{path}: no result files (<ruleset>/<system>/seed<k>.json), "
                "leaderboard-*.json or published leaderboard found; pass a results directory"
            )
        return entries
    if not path.exists():
        message = (
            f"{path}: no such file or directory; give a results directory (from `ascbench run`), "
            "an entry file or a leaderboard file"
        )
        if errors is None:
            raise LeaderboardError(message)
        errors.append(message)
        return []
    try:
        data = read_json(path, LeaderboardError)
        if isinstance(data, dict) and "entries" in data:
            return list(_board_from_data(data, str(path)).entries)
        return [parse_entry(data, str(path))]
    except LeaderboardError as exc:
        if errors is None:
            raise
        errors.append(str(exc))
        return []


def _describe(entry: LeaderboardEntry, origin: str) -> str:
    return f"{origin} (hash {(entry.entry_hash or '?')[:12]}…)"


def dedupe(
    sourced: Iterable[tuple[LeaderboardEntry, str]],
    prefer: Literal["error", "newest"] = "error",
) -> list[LeaderboardEntry]:
    """Resolve duplicates of the same (system, ruleset, seed).

    Identical duplicates (same hash) collapse into one. Conflicting ones raise unless ``prefer``
    is 'newest', which keeps the entry that finished last (ties: larger hash), so the result
    does not depend on input order.
    """
    chosen: dict[tuple, tuple[LeaderboardEntry, str]] = {}
    for entry, origin in sourced:
        key = entry.key
        if key not in chosen or chosen[key][0].entry_hash == entry.entry_hash:
            chosen.setdefault(key, (entry, origin))
            continue
        old, old_origin = chosen[key]
        if prefer == "error":
            raise LeaderboardError(
                f"conflicting results for {entry.label()}: {_describe(old, old_origin)} and "
                f"{_describe(entry, origin)} differ; remove one of them or merge with "
                "--prefer-newest"
            )

        def rank(e: LeaderboardEntry) -> tuple:
            return (e.provenance.finished, e.entry_hash or "")

        if rank(entry) > rank(old):
            chosen[key] = (entry, origin)
    return [chosen[k][0] for k in sorted(chosen)]


def merge(
    inputs: Iterable[str | Path],
    *,
    prefer: Literal["error", "newest"] = "error",
    errors: list[str] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Leaderboard]:
    """Merge result directories, entry files and leaderboard files into one board per rule set.

    Every file is validated and every entry hash verified; duplicates are resolved by
    :func:`dedupe`. With ``errors`` (lenient mode) bad files are skipped and described there.
    """
    inputs = list(inputs)
    sourced: list[tuple[LeaderboardEntry, str]] = []
    for item in inputs:
        for entry in read_input(item, errors=errors):
            sourced.append((entry, str(item)))
    entries = dedupe(sourced, prefer)
    if not entries:
        raise LeaderboardError("no valid entries found in " + ", ".join(map(str, inputs)))
    return group_by_ruleset(entries, generated_at)


def board_filename(ruleset: str) -> str:
    """File name of a rule set's board JSON: ``leaderboard-<ruleset>.json``."""
    return f"leaderboard-{ruleset}.json"


def write_merged(
    boards: dict[str, Leaderboard], out: str | Path, *, overwrite: bool = False
) -> list[Path]:
    """Write merged boards as a result store under ``out`` plus ``leaderboard-<rs>.json`` files.

    The store layout makes the output usable as input of another merge or of ``render``.
    """
    store = ResultStore(out)
    written = []
    for name, board in boards.items():
        for entry in board.entries:
            written.append(store.write(entry, overwrite=overwrite))
        written.append(board.write(Path(out) / board_filename(name)))
    return written
