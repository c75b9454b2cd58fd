"""Fuzzing the three inputs a user writes or edits by hand: rule-set files, labels CSVs and
entry JSON. Whatever they hold: a clear one-line ascbench error or a value that is valid,
never a traceback of another kind, never a silent accept of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascbench.data import load_dataset
from ascbench.errors import AscbenchError
from ascbench.leaderboard.entry import parse_entry
from ascbench.rules import load_ruleset_file
from ascbench.scenes import SCENES

RULES = Path(__file__).resolve().parents[2] / "ascbench" / "rulesets" / "dcase2022.toml"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, AscbenchError), f"{type(exc).__name__}: {exc}"
    assert str(exc) and "\n" not in str(exc)


@FUZZ
@given(cut=st.integers(0, 4000), insert=st.binary(max_size=40), tail=st.booleans())
def test_a_mangled_rule_set_file_is_read_or_refused_in_one_line(tmp_path, cut, insert, tail):
    text = RULES.read_bytes()
    cut = min(cut, len(text))
    data = text[:cut] + insert + (text[cut:] if tail else b"")
    path = tmp_path / "mangled.toml"
    path.write_bytes(data)
    try:
        ruleset = load_ruleset_file(path)
    except Exception as exc:  # noqa: BLE001 - the point: which exceptions come out
        _one_line(exc)
        return
    assert ruleset.limits and ruleset.clip_seconds > 0  # accepted: a complete rule set


@pytest.fixture(scope="module")
def audio_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzzdata")
    for scene in SCENES:
        for k in range(2):
            sf.write(root / f"{scene}-{k}.wav", np.zeros(800, dtype=np.float32), 8000)
    return root


_names = st.one_of(
    st.sampled_from([f"{s}-{k}.wav" for s in SCENES for k in range(2)]),
    st.sampled_from(["../x.wav", "/etc/passwd", "", " ", "a/../../b.wav", "nope.wav"]),
    st.text(max_size=12),
)
_labels = st.one_of(st.sampled_from(SCENES), st.text(max_size=8))
_splits = st.sampled_from(["train", "test", "val", "", "x"])


@FUZZ
@given(rows=st.lists(st.tuples(_names, _labels, _splits), max_size=30), header=st.booleans())
def test_a_fuzzed_labels_csv_is_loaded_soundly_or_refused_in_one_line(audio_root, tmp_path,
                                                                      rows, header):  # fmt: skip
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"'

    lines = (["filename,scene_label,split"] if header else [])
    lines += [",".join(cell(v) for v in row) for row in rows]
    csv_path = audio_root / "labels.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        dataset = load_dataset(csv_path, skip_missing=True, skip_unknown_labels=True)
    except Exception as exc:  # noqa: BLE001
        _one_line(exc)
        return
    root = audio_root.resolve()
    for clips in dataset.splits.values():
        for clip in clips:
            path = (root / clip.filename).resolve()
            assert root in path.parents and path.is_file()
            assert clip.scene_label in SCENES


@pytest.fixture(scope="module")
def entry_data():
    from tests.leaderboard.conftest import make_entry

    return json.loads(make_entry().with_hash().model_dump_json())


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**9),
                    st.floats(allow_nan=True), st.text(max_size=10),
                    st.lists(st.integers(), max_size=2))  # fmt: skip


@FUZZ
@given(data=st.data())
def test_an_edited_entry_is_refused_unless_it_is_still_the_same(entry_data, data):
    paths = list(_paths(entry_data))
    path = data.draw(st.sampled_from(paths))
    value = data.draw(_values)
    edited = json.loads(json.dumps(entry_data))
    target = edited
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        entry = parse_entry(edited, "fuzzed.json")
    except Exception as exc:  # noqa: BLE001
        _one_line(exc)
        return
    # accepted: then the edit changed nothing the hash covers
    assert entry.compute_hash() == entry_data["entry_hash"]
