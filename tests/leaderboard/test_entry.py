"""Leaderboard entries: validation, status logic, content hash and the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ascbench.leaderboard import LeaderboardError, Metrics, build_entry, parse_entry
from ascbench.leaderboard.entry import SCHEMA_VERSION, LeaderboardEntry
from ascbench.leaderboard.schema import leaderboard_json_schema, schema_text, write_schema
from tests.leaderboard.conftest import collapsed, prediction_stats

REPO = Path(__file__).resolve().parents[2]


def _stats(stats, **changes):
    """PredictionStats as JSON data, with ``changes``."""
    return {**stats.model_dump(mode="json"), **changes}


@pytest.fixture
def entry_data(make_entry):
    return lambda **kw: json.loads(make_entry(**kw).to_json())


# -- status and compliance ---------------------------------------------------------------------


def test_compliant_entry_is_ok_and_hashed(make_entry):
    e = make_entry(parameters=30_000, nonzero=29_000)  # 116,000 B under 2021
    assert e.status == "ok"
    assert e.compliance.status == "pass"
    assert e.complexity.bytes == 116_000
    assert [c.quantity for c in e.compliance.checks] == ["bytes"]
    assert e.verify()
    assert len(e.entry_hash) == 64


def test_limit_breach_makes_entry_noncompliant_with_reason(make_entry):
    e = make_entry("fat", "dcase2022", parameters=200_000, macs=31_000_000)
    assert e.status == "noncompliant"
    assert e.compliance.status == "fail"
    assert "parameters 200,000 > 128,000" in e.reason
    assert "macs 31,000,000 > 30,000,000" in e.reason


def test_ambiguous_2021_bytes_stay_ok_but_are_flagged(make_entry):
    e = make_entry(parameters=32_500, nbytes=130_000)
    assert e.status == "ok"
    assert e.compliance.status == "ambiguous"
    assert "ambiguous" in e.reason


def test_failed_entry_keeps_reason_and_has_no_metrics(make_entry):
    e = make_entry(error="RuntimeError: out of memory\n  at line 3")
    assert e.status == "failed"
    assert e.metrics is None
    assert e.reason == "RuntimeError: out of memory at line 3"


def test_metrics_from_flat_evaluator_output():
    m = Metrics.from_flat(
        {
            "accuracy": 50.0,
            "log_loss": 1.3,
            "ece": 0.1,
            "accuracy.bus": 40.0,
            "log_loss.bus": 1.5,
            "accuracy.s4": 30.0,
            "log_loss.s4": 1.9,
            "accuracy.unseen": 33.0,
            "log_loss.unseen": 1.8,
            "accuracy.airport": 12.0,  # no log loss for it: kept in extra
            "latency_ms": 3.5,
        }
    )
    assert m.class_wise["bus"].accuracy == 40.0
    assert m.device_wise["s4"].log_loss == 1.9
    assert m.device_groups["unseen"].accuracy == 33.0
    assert m.ece == 0.1
    assert m.extra == {"accuracy.airport": 12.0, "latency_ms": 3.5}
    with pytest.raises(ValueError, match="lack log_loss"):
        Metrics.from_flat({"accuracy": 1.0})


# -- schema validation: malformed entries get one clear line ------------------------------------


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d.pop("provenance"), "at 'provenance': Field required"),
        (lambda d: d["metrics"].update(accuracy=140.0), "at 'metrics.accuracy'"),
        (lambda d: d["complexity"].update(bytes="many"), "at 'complexity.bytes'"),
        (lambda d: d.update(colour="blue"), "at 'colour': Extra inputs are not permitted"),
        (lambda d: d.update(status="great"), "at 'status'"),
        (lambda d: d.update(status="noncompliant"), "status is 'noncompliant' but compliance"),
        (lambda d: d.update(seed=3), "seed 3 differs from provenance.seed 0"),
        (lambda d: d["system"].update(name="../evil"), "system name '../evil'"),
        (lambda d: d["provenance"].update(started="2024-05-01T12:00:00"), "provenance.started"),
        (
            lambda d: d["compliance"]["checks"][0].update(value=1),
            "compliance check of bytes says 1 but complexity says",
        ),
        (lambda d: d["metrics"].update(log_loss=None), "at 'metrics.log_loss'"),
        (lambda d: d.update(schema_version=6), "schema_version 6 is not one this ascbench reads"),
        (
            lambda d: d.update(schema_version=1) or d["provenance"].update(kernels=None),
            "a schema_version 1 entry has no provenance.torch_threads",
        ),
        (
            lambda d: d.update(schema_version=2),
            "a schema_version 2 entry has no provenance.numpy_version",
        ),
        (
            lambda d: (
                d.update(schema_version=2, status="degenerate")
                or d["provenance"].update(numpy_version=None, kernels=None)
            ),
            "a schema_version 2 entry has no status 'degenerate'",
        ),
        (
            lambda d: (
                d.update(schema_version=2)
                or d["provenance"].update(numpy_version=None, kernels=None)
                or d["metrics"].update(predictions=_stats(prediction_stats()))
            ),
            "a schema_version 2 entry has no metrics.predictions",
        ),
        # the judgement must follow from the evidence
        (
            lambda d: d["metrics"].update(predictions=_stats(collapsed())),
            "degenerate lists 0 reasons but metrics.predictions meet 2 criteria: predicts "
            "'metro' for 360 of 360 clips",
        ),
        (
            lambda d: (
                d["metrics"].update(predictions=_stats(collapsed()))
                or d.update(degenerate=["made up"])
            ),
            "status is 'ok' but compliance is 'pass' and the model is degenerate (expected "
            "'degenerate')",
        ),
        (
            lambda d: (
                d["metrics"].update(predictions=_stats(prediction_stats()))
                or d.update(status="degenerate", degenerate=["made up"])
            ),
            "degenerate lists 1 reasons but metrics.predictions meet 0 criteria: none",
        ),
        (
            lambda d: d["metrics"].update(predictions=_stats(prediction_stats(), clips=361)),
            "predicted counts sum to 360, not to clips 361",
        ),
        (
            lambda d: d["metrics"].update(predictions=_stats(prediction_stats(), top_share=0.5)),
            "top_share or top_two_share does not follow from predicted",
        ),
        (
            lambda d: d["metrics"].update(predictions=_stats(prediction_stats(), tied=400)),
            "tied 400 exceeds clips 360",
        ),
        (
            lambda d: d.update(status="failed", reason="x", degenerate=["y"]),
            "a failed entry has no degenerate reasons",
        ),
    ],
)
def test_malformed_entries_are_rejected_with_one_line(mutate, expected, entry_data):
    data = entry_data()
    mutate(data)
    with pytest.raises(LeaderboardError) as info:
        parse_entry(data, "results/x.json", verify=False)
    message = str(info.value)
    assert message.startswith("results/x.json: ")
    assert expected in message
    assert "\n" not in message


def test_ok_entry_needs_metrics(entry_data):
    data = entry_data()
    data["metrics"] = None
    with pytest.raises(LeaderboardError, match="a 'ok' entry needs metrics"):
        parse_entry(data, "x.json", verify=False)


# -- content hash -------------------------------------------------------------------------------


def test_hash_is_stable_and_independent_of_key_order(make_entry):
    e = make_entry()
    data = json.loads(e.to_json())
    shuffled = dict(reversed(list(data.items())))
    again = parse_entry(shuffled, "x.json")
    assert again.entry_hash == e.entry_hash == again.compute_hash()
    canonical = e.canonical_json()
    without_hash = {k: v for k, v in data.items() if k != "entry_hash"}
    assert canonical == json.dumps(
        without_hash, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert b"entry_hash" not in canonical


def test_tampering_with_a_number_is_detected(make_entry):
    e = make_entry(accuracy=61.25)
    text = e.to_json().replace('"accuracy": 61.25', '"accuracy": 71.25', 1)
    assert text != e.to_json()
    with pytest.raises(LeaderboardError) as info:
        parse_entry(json.loads(text), "results/dcase2021/alpha/seed0.json")
    assert "does not match entry_hash" in str(info.value)
    assert "results/dcase2021/alpha/seed0.json" in str(info.value)


def test_tampering_with_hash_and_content_together_is_detected_as_mismatch(make_entry):
    e = make_entry()
    data = json.loads(e.to_json())
    data["complexity"]["fvcore_macs"] = 1
    data["entry_hash"] = "0" * 64
    with pytest.raises(LeaderboardError, match="does not match entry_hash"):
        parse_entry(data, "x.json")


def test_missing_hash_is_refused_when_verifying(entry_data):
    data = entry_data()
    data["entry_hash"] = None
    with pytest.raises(LeaderboardError, match="has no entry_hash"):
        parse_entry(data, "x.json")
    assert parse_entry(data, "x.json", verify=False).verify() is False


def test_provenance_records_the_torch_thread_count():
    import torch

    from ascbench.leaderboard import Budget, collect_provenance, utc_now

    def collect(**kw):
        return collect_provenance(seed=0, budget=Budget(full=False), device="cpu",
                                  started=utc_now(), **kw)  # fmt: skip

    assert collect().torch_threads == torch.get_num_threads()
    assert collect(torch_threads=3).torch_threads == 3


#: What each older version lacks: top-level, provenance, metrics and system fields.
_LACKS = {
    1: ({"degenerate", "device_models"}, {"torch_threads", "numpy_version", "kernels"},
        {"predictions"}, {"deviations"}),
    2: ({"degenerate", "device_models"}, {"numpy_version", "kernels"}, {"predictions"},
        {"deviations"}),
    3: ({"device_models"}, set(), set(), {"deviations"}),
    4: ({"device_models"}, set(), set(), set()),
}  # fmt: skip


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_older_entries_are_read_verified_and_kept_as_written(version, entry_data, make_entry):
    """A version-1, -2, -3 or -4 file, hashed as the module docstring says (not by ascbench's code),
    verifies, is written back byte for byte, and a board holding it keeps it so."""
    import hashlib

    from ascbench.leaderboard import build_leaderboard

    data = entry_data()
    data["schema_version"] = version
    top, provenance, metrics, system = _LACKS[version]
    for name in top:
        del data[name]
    for name in provenance:
        del data["provenance"][name]
    for name in metrics:
        del data["metrics"][name]
    for name in system:
        del data["system"][name]
    stage = {"name": "trained", "params": {}, "complexity": None, "compliance": None}
    data["stages"] = [{**stage, "metrics": {**data["metrics"]}}]
    del data["entry_hash"]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data["entry_hash"] = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    entry = parse_entry(data, "old/seed0.json")
    assert entry.schema_version == version
    assert (entry.provenance.kernels is None) == (version < 3)
    assert (entry.provenance.torch_threads is None) == (version == 1)
    assert entry.system.deviations == []
    assert entry.verify()
    assert json.loads(entry.to_json()) == data
    for name in ("kernels", "numpy_version", "predictions", "degenerate", "deviations"):
        if version < 3 or (name == "deviations" and version < 4):
            assert f'"{name}"' not in entry.to_json()
    assert '"device_models"' not in entry.to_json()
    # beside a current-version entry on one board, and read back from the board's file
    board = build_leaderboard([entry, make_entry("new")])
    assert board.schema_version == SCHEMA_VERSION
    assert [e.schema_version for e in board.entries] == [version, SCHEMA_VERSION]
    again = read_board_text(board.to_json())
    assert again.entries[0].to_json() == entry.to_json() and again.entries[0].verify()


def read_board_text(text: str):
    from ascbench.leaderboard.board import _board_from_data

    return _board_from_data(json.loads(text), "board.json")


def test_with_hash_and_verify(make_entry):
    e = make_entry()
    changed = e.model_copy(update={"seed": 0, "reason": "edited"})
    assert not changed.verify()
    assert changed.with_hash().verify()
    assert changed.with_hash().entry_hash != e.entry_hash


def test_build_entry_redoes_limit_checks_from_the_ruleset(make_entry, rulesets):
    e = make_entry("fat", "dcase2022", parameters=200_000)
    rebuilt = build_entry(
        system=e.system,
        ruleset=rulesets["dcase2022"],
        seed=0,
        provenance=e.provenance,
        complexity=e.complexity,
        metrics=e.metrics,
    )
    assert rebuilt.status == "noncompliant"
    assert rebuilt.compliance == e.compliance


def test_device_models_break_a_ruleset_without_the_device_at_inference(make_entry, rulesets):
    """One model per recording device is allowed where the rule set gives the device at
    inference (DCASE 2025) and noncompliant elsewhere, named in the reason."""
    e = make_entry("per_device", "dcase2022")
    fields = dict(system=e.system, seed=0, provenance=e.provenance, complexity=e.complexity,
                  metrics=e.metrics, device_models={"a": e.complexity, "s1": e.complexity})
    under_2022 = build_entry(ruleset=rulesets["dcase2022"], **fields)
    assert under_2022.status == "noncompliant"
    check = under_2022.compliance.checks[-1]
    assert (check.quantity, check.value, check.maximum) == ("device_models", 3, 1)
    assert "device_models 3 > 1" in under_2022.reason
    under_2025 = build_entry(ruleset=rulesets["dcase2025"], **fields)
    assert under_2025.status == "ok"
    assert [c.quantity for c in under_2025.compliance.checks] == ["bytes", "macs"]
    single = build_entry(ruleset=rulesets["dcase2022"], **{**fields, "device_models": None})
    assert single.status == "ok"


# -- schema ------------------------------------------------------------------------------------


def test_schema_covers_entries_and_boards(tmp_path):
    schema = leaderboard_json_schema()
    assert {"LeaderboardEntry", "Leaderboard", "Provenance", "Metrics"} <= set(schema["$defs"])
    assert schema["oneOf"][0] == {"$ref": "#/$defs/LeaderboardEntry"}
    entry_schema = schema["$defs"]["LeaderboardEntry"]
    assert entry_schema["additionalProperties"] is False
    assert "entry_hash" in entry_schema["properties"]
    path = write_schema(tmp_path / "schema.json")
    assert json.loads(path.read_text()) == schema
    assert path.read_text() == schema_text()
    assert LeaderboardEntry.model_json_schema()  # the entry model alone also has a schema


def test_committed_schema_matches_the_code():
    committed = REPO / "leaderboard" / "schema.json"
    if not committed.exists():
        pytest.skip("leaderboard/schema.json is not committed yet (write it with write_schema)")
    assert committed.read_text(encoding="utf-8") == schema_text(), (
        "leaderboard/schema.json is stale; regenerate it with "
        "`ascbench leaderboard schema --out leaderboard/schema.json`"
    )


def test_deviations_reach_the_entry_the_board_notes_and_the_submission_meta(make_entry):
    from ascbench.leaderboard import build_leaderboard, render_html, render_markdown
    from ascbench.leaderboard.entry import SystemInfo
    from ascbench.submission import build_meta, meta_yaml_text
    from tests.leaderboard.conftest import make_system

    said = "no pix2pix augmentation\n(not reproducible)"
    assert SystemInfo.from_system(make_system("a", deviations=[said])).deviations == [said]
    plain = make_entry("alpha", "dcase2022")
    entry = plain.model_copy(
        update={"system": plain.system.model_copy(update={"deviations": [said]})}
    ).with_hash()
    assert entry.verify() and parse_entry(json.loads(entry.to_json()), "x").system.deviations
    board = build_leaderboard([entry])
    assert board.rows[0].deviations == [said]
    assert "deviation from the report: no pix2pix" in render_markdown(board)
    assert "deviation from the report: no pix2pix" in render_html(board)
    meta = meta_yaml_text(build_meta("Kim_QTI_task1_1", entry), entry)
    assert "#  - no pix2pix augmentation (not reproducible)" in meta.splitlines()
