"""Publishing: the canonical ``leaderboard/`` directory, written from verified results.

:func:`publish` reads result directories, entry files and leaderboard files (possibly from
several machines), and refuses (:class:`PublishRefused`, listing every problem) when any
file is malformed, tampered or lacks its hash, when two inputs hold different results for
the same (system, rule set, seed), or when one rule set comes with different definitions.
Only when everything checks out does it write, per rule set ``<rs>``::

    <out>/<rs>.json                        the board: entries + ranked rows (re-readable input)
    <out>/<rs>.md, <out>/<rs>.html         the rendered board
    <out>/pareto-<rs>.png, pareto-<rs>.svg the Pareto plot

plus ``<out>/schema.json`` and ``<out>/index.html`` (linking every rule set's page). Every
file is rendered in memory first and then written atomically, so a refused publish changes
nothing. A board's ``generated_at`` is the latest ``finished`` time of its entries, so
publishing the same results again gives byte-identical files. Boards of other rule sets that
``<out>`` already holds are kept (validated, left unchanged) and stay in the index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ascbench.errors import describe_problem
from ascbench.leaderboard._io import atomic_write_bytes, read_json
from ascbench.leaderboard.board import (
    SCHEMA_FILE,
    Leaderboard,
    board_filename,
    board_files,
    build_leaderboard,
    entries_by_ruleset,
    read_board,
)
from ascbench.leaderboard.defaults import DEFAULT_OUT
from ascbench.leaderboard.entry import (
    LeaderboardEntry,
    LeaderboardError,
    parse_entry,
)
from ascbench.leaderboard.render import render_html, render_index, render_markdown
from ascbench.leaderboard.schema import schema_text
from ascbench.leaderboard.store import ResultStore

#: The index page of a published directory.
INDEX_FILE = "index.html"

#: Rule-set names whose files would overwrite the schema or the index.
_RESERVED = {Path(SCHEMA_FILE).stem, Path(INDEX_FILE).stem}


class PublishRefused(LeaderboardError):
    """Publishing was refused; ``problems`` holds one line per problem found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"publish refused ({count}): {problems[0]}")


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did: the boards written, the files written, what it kept or skipped."""

    out: Path
    boards: dict[str, Leaderboard]
    written: list[Path]
    kept: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: entries whose metrics were recomputed from their predictions and labels
    verified: int = 0
    #: entries that could not be (no predictions and labels files beside them)
    unverified: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Sourced:
    """An entry, where it was read (a file, or a board file and the entry's position) and
    the folder its predictions and labels files would be in."""

    entry: LeaderboardEntry
    origin: str
    folder: Path | None = None


def page_files(ruleset: str) -> dict[str, str]:
    """File names of one rule set in a published directory, by kind."""
    return {
        "json": f"{ruleset}.json",
        "md": f"{ruleset}.md",
        "html": f"{ruleset}.html",
        "png": f"pareto-{ruleset}.png",
        "svg": f"pareto-{ruleset}.svg",
    }


# -- reading every input, collecting every problem ----------------------------------------------


def _entry_origin(source: str, index: int, item: Any) -> str:
    """'<file> (entry 3: alpha, seed 0)', with as much of the name as the raw data gives."""
    name = seed = None
    if isinstance(item, dict):
        system = item.get("system")
        name = system.get("name") if isinstance(system, dict) else None
        seed = item.get("seed")
    what = f": {name}, seed {seed}" if name is not None else ""
    return f"{source} (entry {index}{what})"


def _read_board_data(data: dict[str, Any], source: str, problems: list[str]) -> list[_Sourced]:
    """The entries of a board file, each verified; a bad entry or board is a problem."""
    items = data["entries"]
    if not isinstance(items, list):
        problems.append(f"{source}: 'entries' is not a list; restore the file or drop it")
        return []
    sourced, bad = [], False
    for index, item in enumerate(items):
        origin = _entry_origin(source, index, item)
        try:
            entry = parse_entry(item, origin)
            # a published board keeps them in <board dir>/<rule set>/<system>/
            folder = Path(source).parent / entry.ruleset.name / entry.system.name
            sourced.append(_Sourced(entry, origin, folder))
        except LeaderboardError as exc:
            problems.append(str(exc))
            bad = True
    if bad:
        return []
    try:
        Leaderboard.model_validate(data)
    except ValidationError as exc:
        problems.append(
            f"{source}: not a valid leaderboard {describe_problem(exc)}; regenerate it with "
            "`ascbench leaderboard merge` or drop the file"
        )
        return []
    return sourced


def _read_file(path: Path, problems: list[str]) -> list[_Sourced]:
    """The entries of an entry file or a leaderboard file (none from a JSON schema file)."""
    try:
        data = read_json(path, LeaderboardError)
        if isinstance(data, dict) and "$schema" in data:
            return []  # the schema of a published directory, e.g. from `publish leaderboard/*.json`
        if isinstance(data, dict) and "entries" in data:
            return _read_board_data(data, str(path), problems)
        return [_Sourced(parse_entry(data, str(path)), str(path), path.parent)]
    except LeaderboardError as exc:
        problems.append(str(exc))
        return []


def _read_input(path: Path, problems: list[str]) -> list[_Sourced]:
    """The entries of one input: a results directory, a board directory or a file."""
    if path.is_dir():
        store = ResultStore(path)
        files = store.entry_files()
        if files:
            sourced = []
            for file in files:
                try:
                    sourced.append(_Sourced(store.read(file), str(file), file.parent))
                except LeaderboardError as exc:
                    problems.append(str(exc))
            return sourced
        boards = board_files(path)
        if not boards:
            problems.append(
                f"{path}: no result files (<ruleset>/<system>/seed<k>.json) and no leaderboard "
                "files; pass a results directory, or leave it out"
            )
        return [s for board in boards for s in _read_file(board, problems)]
    if not path.exists():
        problems.append(
            f"{path}: no such file or directory; give a results directory (from `ascbench "
            "run`), an entry file or a leaderboard file"
        )
        return []
    return _read_file(path, problems)


def _short(entry: LeaderboardEntry) -> str:
    return f"hash {(entry.entry_hash or '?')[:12]}…"


def _resolve(sourced: list[_Sourced]) -> tuple[list[LeaderboardEntry], list[str]]:
    """One entry per (system, rule set, seed); different content for one key is a problem.

    Identical copies (same hash) collapse. Entries of one rule-set name must share its
    definition (limits, metric, clip length).
    """
    by_key: dict[tuple, dict[str, _Sourced]] = defaultdict(dict)
    for item in sourced:
        by_key[item.entry.key].setdefault(item.entry.entry_hash or "", item)
    problems = []
    for versions in by_key.values():
        first, *others = versions.values()
        for other in others:
            problems.append(
                f"conflicting results for {first.entry.label()}: {first.origin} "
                f"({_short(first.entry)}) and {other.origin} ({_short(other.entry)}) differ; "
                "keep one and drop the other input (or merge them first with "
                "`ascbench leaderboard merge --prefer-newest`)"
            )
    definitions: dict[str, dict[str, str]] = defaultdict(dict)
    for item in sourced:
        info = item.entry.ruleset
        definitions[info.name].setdefault(info.model_dump_json(), item.origin)
    for name, origins in definitions.items():
        if len(origins) > 1:
            where = " and ".join(origins.values())
            problems.append(
                f"rule set '{name}' has different definitions (title, metric, clip length or "
                f"limits differ) in {where}; publish the entries of one definition only and "
                "drop or re-run the others"
            )
    entries = [next(iter(by_key[key].values())).entry for key in sorted(by_key)]
    return entries, problems


@dataclass
class Collected:
    """The distinct entries of the inputs, what was skipped, and what was verified."""

    entries: list[LeaderboardEntry]
    skipped: list[str]
    #: folder of each verified entry's predictions and labels files, by entry key
    verified: dict[tuple, Path] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)


def _verify(entries: list[LeaderboardEntry], sourced: list[_Sourced]) -> tuple[dict, list, list]:
    """``(verified folders by key, unverifiable labels, problems)``: each entry's metrics
    recomputed from the predictions and labels beside it (:mod:`ascbench.leaderboard.verify`)."""
    from ascbench.leaderboard.verify import verify_all

    folder_of = {id(s.entry): s.folder for s in sourced}
    return verify_all(entries, lambda entry: folder_of.get(id(entry)))


def collect(inputs: Iterable[str | Path], *, skip_invalid: bool = False) -> Collected:
    """Every distinct entry of ``inputs``, or :class:`PublishRefused` listing every problem:
    malformed or tampered files, conflicting entries, and entries whose metrics differ from
    those recomputed from their own predictions and labels.

    With ``skip_invalid`` bad files are left out and listed in ``skipped`` instead; conflicts
    and metrics that do not match their predictions still refuse.
    """
    bad_files: list[str] = []
    sourced = [s for path in inputs for s in _read_input(Path(path), bad_files)]
    entries, conflicts = _resolve(sourced)
    verified, unverified, mismatches = _verify(entries, sourced)
    problems = (conflicts if skip_invalid else bad_files + conflicts) + mismatches
    if problems:
        raise PublishRefused(problems)
    if not entries:
        raise PublishRefused(["no valid entries in the inputs; nothing to publish"])
    return Collected(entries, bad_files if skip_invalid else [], verified, unverified)


# -- building and rendering ---------------------------------------------------------------------


def build_boards(
    entries: list[LeaderboardEntry], rules: str | None = None
) -> dict[str, Leaderboard]:
    """One board per rule set (only ``rules`` if given), dated by its latest entry."""
    grouped = entries_by_ruleset(entries)
    if rules is not None:
        if rules not in grouped:
            known = ", ".join(sorted(grouped)) or "none"
            raise LeaderboardError(
                f"no results for rule set '{rules}' in the inputs (they hold: {known}); pick "
                "one of those or add its results"
            )
        grouped = {rules: grouped[rules]}
    reserved = sorted(_RESERVED & set(grouped))
    if reserved:
        raise PublishRefused(
            [
                f"rule set '{name}' cannot be published: its files would overwrite "
                f"{SCHEMA_FILE} or {INDEX_FILE}; rename the rule set"
                for name in reserved
            ]
        )
    return {
        name: build_leaderboard(group, max(e.provenance.finished for e in group))
        for name, group in sorted(grouped.items())
    }


def _kept_boards(out: Path, published: dict[str, Leaderboard]) -> dict[str, Leaderboard]:
    """Boards of other rule sets already in ``out``: they stay, and stay in the index."""
    if not out.is_dir():
        return {}
    kept, problems = {}, []
    for path in board_files(out):
        if path.stem in published:
            continue
        try:
            board = read_board(path)
        except LeaderboardError as exc:
            problems.append(f"{exc} (a board already in {out}; delete it or publish it again)")
            continue
        if path.name == board_filename(board.name):
            continue  # written by `render` or `merge`: not part of the published layout
        if path.name != page_files(board.name)["json"]:
            problems.append(
                f"{path}: holds the board of rule set '{board.name}', so it belongs at "
                f"{out / page_files(board.name)['json']}; rename or delete it"
            )
            continue
        kept[board.name] = board
    if problems:
        raise PublishRefused(problems)
    return kept


def render_files(
    boards: dict[str, Leaderboard],
    out: Path,
    *,
    index: dict[str, Leaderboard] | None = None,
    plots: bool = True,
) -> dict[Path, bytes]:
    """Every published file's content, by path (nothing is written)."""
    files: dict[Path, bytes] = {}
    for name, board in boards.items():
        names = page_files(name)
        png = svg = None
        if plots:
            from ascbench.leaderboard.plot import render_pareto

            png, svg = render_pareto(board)
        plot_file = names["png"] if plots else None
        files[out / names["json"]] = board.to_json().encode("utf-8")
        files[out / names["md"]] = render_markdown(board, plot_file=plot_file).encode("utf-8")
        files[out / names["html"]] = render_html(board, svg=svg).encode("utf-8")
        if png is not None and svg is not None:
            files[out / names["png"]] = png
            files[out / names["svg"]] = svg.encode("utf-8")
    files[out / SCHEMA_FILE] = schema_text().encode("utf-8")
    pages = dict(sorted((index or boards).items()))
    files[out / INDEX_FILE] = render_index(pages, page=lambda n: page_files(n)["html"]).encode(
        "utf-8"
    )
    return files


# -- the whole thing ----------------------------------------------------------------------------


def publish(
    inputs: Iterable[str | Path],
    out: str | Path = DEFAULT_OUT,
    *,
    rules: str | None = None,
    skip_invalid: bool = False,
    plots: bool = True,
    sign: str | Path | None = None,
) -> Published:
    """Verify ``inputs`` and write the published leaderboard into ``out``.

    ``rules`` publishes only that rule set's board. Raises :class:`PublishRefused` (one line
    per problem; ``out`` untouched) on malformed, tampered, hash-less or conflicting entries,
    unless ``skip_invalid`` leaves bad files out (they are listed in ``skipped``).
    ``plots=False`` skips the Pareto plot (for previews and tests). ``sign`` is an Ed25519
    private key file: each board JSON gets a ``.sig`` (:mod:`ascbench.leaderboard.signing`).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LeaderboardError(f"{out}: exists and is not a directory; choose another --out")
    collected = collect(inputs, skip_invalid=skip_invalid)
    boards = build_boards(collected.entries, rules)
    kept = _kept_boards(out, boards)
    files = render_files(boards, out, index={**kept, **boards}, plots=plots)
    from ascbench.leaderboard.verify import evidence_files

    entries = [e for board in boards.values() for e in board.entries]
    files |= evidence_files(entries, collected.verified, out)
    if sign is not None:
        from ascbench.leaderboard.signing import SUFFIX, signature_bytes

        for name in boards:
            board = out / page_files(name)["json"]
            files[board.with_name(board.name + SUFFIX)] = signature_bytes(files[board], Path(sign))
    written = [atomic_write_bytes(path, data) for path, data in files.items()]
    return Published(
        out=out,
        boards=boards,
        written=written,
        kept=[out / page_files(name)["json"] for name in sorted(kept)],
        skipped=collected.skipped,
        verified=len(collected.verified),
        unverified=collected.unverified,
    )
