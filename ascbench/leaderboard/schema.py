"""The published JSON schema of the leaderboard's files: a single entry, or a whole leaderboard.

It sits above :mod:`.entry` and :mod:`.board` because it describes the models of both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from ascbench.leaderboard._io import atomic_write_text
from ascbench.leaderboard.board import Leaderboard
from ascbench.leaderboard.entry import SCHEMA_ID, LeaderboardEntry


def leaderboard_json_schema() -> dict[str, Any]:
    """The JSON schema of both file kinds: a single entry, or a whole leaderboard."""
    _, defs = models_json_schema(
        [(LeaderboardEntry, "validation"), (Leaderboard, "validation")],
        ref_template="#/$defs/{model}",
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ascbench leaderboard",
        "description": "A leaderboard entry (one system, rule set and seed; the files under "
        "<results>/<ruleset>/<system>/seed<k>.json) or a leaderboard (leaderboard-<ruleset>.json).",
        "oneOf": [{"$ref": "#/$defs/LeaderboardEntry"}, {"$ref": "#/$defs/Leaderboard"}],
        **defs,
    }


def schema_text() -> str:
    """The published schema as text: indented JSON with sorted keys and a final newline."""
    return json.dumps(leaderboard_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: str | Path) -> Path:
    """Write the published schema to ``path`` (atomically)."""
    return atomic_write_text(path, schema_text())
