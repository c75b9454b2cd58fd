"""DCASE submission files: output CSV exactly as the validator expects, meta.yaml per year."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import datetime, timezone

import numpy as np
import pytest
import yaml

from ascbench.commands import submit as submit_command
from ascbench.leaderboard import (
    Budget,
    ComplexitySummary,
    DatasetInfo,
    FileRef,
    Hardware,
    Metrics,
    Provenance,
    ResultStore,
    Stage,
    build_entry,
)
from ascbench.rules import builtin_rulesets
from ascbench.scenes import DEVICES, SCENES
from ascbench.submission import (
    SubmissionError,
    SubmissionInfo,
    build_meta,
    check_eval_names,
    check_meta,
    check_output_text,
    load_submission_info,
    read_output_csv,
    validate_label,
    write_meta_yaml,
    write_output_csv,
)
from ascbench.systems import ComponentRef, System

RULESETS = {r.name: r for r in builtin_rulesets()}
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
HEADER = (
    "filename\tscene_label\tairport\tbus\tmetro\tmetro_station\tpark\tpublic_square\t"
    "shopping_mall\tstreet_pedestrian\tstreet_traffic\ttram"
)


def entry(
    ruleset: str = "dcase2022",
    *,
    parameters=60_000,
    nonzero=59_000,
    nbytes=60_000,
    macs=20_000_000,
    macs_official=None,
    error=None,
    artifacts=None,
):
    rs = RULESETS[ruleset]
    flat = {"accuracy": 51.25, "log_loss": 1.3125}
    for i, name in enumerate((*SCENES, *DEVICES)):
        flat[f"accuracy.{name}"] = 40.0 + i
        flat[f"log_loss.{name}"] = 1.0 + i / 100
    return build_entry(
        system=System(
            name="kim2021",
            title="Kim QTI: residual normalisation",
            report="Kim et al. 2021",
            challenge=ruleset,
            frontend=ComponentRef(name="logmel"),
            model=ComponentRef(name="bcresnet"),
            plugin="ascbench-kim",
        ),
        ruleset=rs,
        seed=0,
        provenance=Provenance(
            ascbench_version="0.1.0",
            torch_version="2.13.0",
            python_version="3.11.7",
            platform="Linux",
            hardware=Hardware(cpu="CPU", cores=2),
            dataset=DatasetInfo(name="TAU 2022 dev", fingerprint="f" * 64),
            seed=0,
            budget=Budget(full=True),
            device="cpu",
            started=T0,
            finished=T0,
            wall_seconds=0,
        ),
        complexity=ComplexitySummary(
            convention="nessi-torch",
            counter="ascbench 0.1.0",
            input_shape=[1, 1, 256, 65],
            parameters=parameters,
            nonzero_parameters=nonzero,
            bytes=nbytes,
            macs=macs,
            macs_official=macs if macs_official is None else macs_official,
            fvcore_macs=macs,
        ),
        metrics=None if error else Metrics.from_flat(flat),
        stages=[Stage(name="fold_bn"), Stage(name="quantize_int8", params={"bits": 8})],
        artifacts=artifacts,
        error=error,
    )


# -- output CSV ---------------------------------------------------------------------------------


def test_output_csv_header_and_rows_exactly(tmp_path):
    probs = np.full((3, 10), 0.05)
    probs[0, 1] = 0.55  # bus
    probs[1, 9] = 0.55  # tram
    probs[2] = 0.1  # a tie: the first scene wins
    path = write_output_csv(
        tmp_path / "x.output.csv",
        ["audio/0.wav", "eval\\audio\\1.wav", "2.wav"],
        probs,
    )
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == HEADER
    assert lines[1] == "0.wav\tbus\t0.05\t0.55" + "\t0.05" * 8
    assert lines[2] == "1.wav\ttram" + "\t0.05" * 9 + "\t0.55"
    assert lines[3] == "2.wav\tairport" + "\t0.1" * 10
    assert lines[4] == "" and len(lines) == 5  # one final newline, no blank rows
    assert check_output_text(path.read_text()) == []


def test_output_csv_precision_roundtrips_and_validator_accepts_eval_set(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7920, 10)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[0] = [1e-12] * 9 + [1 - 9e-12]
    names = [f"audio/{i}.wav" for i in range(7920)]
    path = write_output_csv(tmp_path / "x.output.csv", names, probs)
    text = path.read_text()
    assert check_output_text(text, eval_files=7920) == []
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert all(len(r) == 12 for r in rows)
    read_names, read_probs = read_output_csv(path)
    assert read_names == [f"{i}.wav" for i in range(7920)]
    np.testing.assert_allclose(read_probs, probs, rtol=1e-9, atol=0)
    assert read_probs[0, 0] == pytest.approx(1e-12, rel=1e-7)  # tiny values are not lost
    check_eval_names(read_names, "dcase2021")
    with pytest.raises(SubmissionError, match="the 2022 evaluation set has 118800"):
        check_eval_names(read_names, "dcase2022")


def test_validator_mirror_finds_problems():
    bad = HEADER + "\n" + "a.wav\tbus\t0.1\n" + "x.mp3\tboat" + "\tnan" * 9 + "\tzero\n"
    problems = check_output_text(bad, eval_files=2)
    assert "row 1: 3 fields, expected 12" in problems
    assert "row 2: file x.mp3 does not end in .wav" in problems
    assert "row 2: unknown scene label 'boat'" in problems
    assert "row 2: tram value 'zero' is not a number" in problems
    assert "1 unique files, expected 2" in problems
    assert check_output_text("filename,scene_label\n")[0] == "no header row with 'filename'"


@pytest.mark.parametrize(
    "names, probs, message",
    [
        (["0.wav"], np.full((1, 10), 0.5), "sums to 5"),
        (["0.wav"], np.full((1, 9), 1 / 9), "shape (1, 9)"),
        (["0.wav"], np.array([[2.0] + [-0.1] * 9]), "outside [0, 1]; pass softmax"),
        (["a/0.wav", "b/0.wav"], np.full((2, 10), 0.1), "'0.wav' appears twice"),
        (["0.wav"], np.array([[np.nan] * 10]), "NaN"),
    ],
)
def test_output_csv_rejects_bad_input_and_writes_nothing(tmp_path, names, probs, message):
    path = tmp_path / "x.output.csv"
    with pytest.raises(
        SubmissionError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ):
        write_output_csv(path, names, probs)
    assert not path.exists()


def test_predictions_file_keeps_paths(tmp_path):
    path = write_output_csv(
        tmp_path / "seed0.predictions.csv",
        ["audio/a-1-a.wav"],
        np.full((1, 10), 0.1),
        keep_paths=True,
    )
    assert path.read_text().splitlines()[1].startswith("audio/a-1-a.wav\tairport\t")


# -- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, ruleset, message",
    [
        ("Kim_QTI_task1a_1", "dcase2021", None),
        ("Martín-Morató_TAU_task1_4", "dcase2022", None),
        ("Kim_QTI_task1_1", "dcase2021", "needs 'task1a'"),
        ("Kim_QTI_task1a_1", "dcase2022", "needs 'task1'"),
        ("Kim_QTI_task1_5", "dcase2022", "index '5' must be 1, 2, 3 or 4"),
        ("Kim_task1_1", "dcase2022", "3 '_'-separated parts, not 4"),
        ("Kim_Q.T_task1_1", "dcase2022", "Institute part 'Q.T'"),
        ("Kim_QTI_task1_1", "dcase2099", "no DCASE submission format is known"),
    ],
)
def test_label_grammar(label, ruleset, message):
    if message is None:
        assert validate_label(label, ruleset) == label
        return
    with pytest.raises(SubmissionError) as info:
        validate_label(label, ruleset)
    assert message in str(info.value) and "\n" not in str(info.value)


# -- meta.yaml ----------------------------------------------------------------------------------


def test_meta_2021_complexity_is_measured_and_in_kb(tmp_path):
    e = entry("dcase2021", parameters=31_000, nonzero=30_210, nbytes=120_840)
    path = write_meta_yaml(tmp_path / "Kim_QTI_task1a_1.meta.yaml", "Kim_QTI_task1a_1", e)
    meta = yaml.safe_load(path.read_text())
    assert meta["system"]["complexity"] == {
        "total_parameters": 31_000,
        "total_parameters_non_zero": 30_210,
        "model_size": 120.84,  # KB = 1000 B, as the 2021 rule set says
    }
    dev = meta["results"]["development_dataset"]
    assert dev["overall"] == {"accuracy": 51.25, "logloss": 1.3125}
    assert list(dev["class_wise"]) == list(SCENES)
    assert list(dev["device_wise"]) == list(DEVICES)
    assert dev["class_wise"]["bus"] == {"accuracy": 41.0, "logloss": 1.01}
    assert meta["submission"]["label"] == "Kim_QTI_task1a_1"
    assert set(meta["system"]["description"]) == {
        "input_sampling_rate",
        "acoustic_features",
        "embeddings",
        "data_augmentation",
        "machine_learning_method",
        "ensemble_method_subsystem_count",
        "decision_making",
        "external_data_usage",
    }
    assert path.read_text().startswith("# Generated by ascbench 0.1.0 from entry ")


def test_meta_2022_complexity_fields(tmp_path):
    e = entry(
        "dcase2022",
        parameters=60_000,
        nonzero=59_000,
        nbytes=60_000,
        macs=20_000_000,
        macs_official=19_000_000,
    )
    meta = build_meta("Kim_QTI_task1_1", e)
    assert meta["system"]["complexity"] == {
        "total_parameters": 60_000,
        "total_parameters_non_zero": 59_000,
        "memory_use": 60_000,
        "macs": 20_000_000,
    }
    description = meta["system"]["description"]
    assert description["framework"] == "PyTorch 2.13.0"
    assert description["complexity_management"] == "fold_bn, quantize_int8"
    assert {"pipeline", "complexity_management", "framework"} <= set(description)
    text = write_meta_yaml(tmp_path / "m.yaml", "Kim_QTI_task1_1", e).read_text()
    assert "the official counter would report 19000000 MACs" in text
    problems = check_meta(meta, "dcase2022")
    assert "submission.authors[0].email is not filled in" in problems
    assert "system.description.pipeline is not filled in" in problems
    assert not [p for p in problems if "not filled in" not in p]  # otherwise valid


def test_meta_with_info_passes_the_validator_checks(tmp_path):
    info_file = tmp_path / "info.yaml"
    info_file.write_text(
        yaml.safe_dump(
            {
                "submission": {
                    "name": "Kim residual",
                    "abbreviation": "KimRes",
                    "authors": [
                        {
                            "lastname": "Kim",
                            "firstname": "B.",
                            "email": "k@x.org",
                            "affiliation": {"abbreviation": "QTI", "institute": "Qualcomm"},
                            "corresponding": True,
                        },
                        {
                            "lastname": "Lee",
                            "firstname": "S.",
                            "email": "l@x.org",
                            "affiliation": "Qualcomm",
                        },
                    ],
                },
                "system": {
                    "description": {
                        k: "x"
                        for k in (
                            "input_sampling_rate",
                            "acoustic_features",
                            "embeddings",
                            "data_augmentation",
                            "machine_learning_method",
                            "decision_making",
                            "external_data_usage",
                            "pipeline",
                        )
                    }
                    | {"ensemble_method_subsystem_count": 1},
                    "complexity": {"total_parameters": 1},  # measured values win
                    "source_code": "https://example.invalid/kim",
                },
                "results": {"development_dataset": {"overall": {"accuracy": 99}}},
            }
        )
    )
    info = load_submission_info(info_file)
    meta = build_meta("Kim_QTI_task1_1", entry(), info=info)
    assert check_meta(meta, "dcase2022") == []
    assert meta["system"]["complexity"]["total_parameters"] == 60_000
    assert meta["results"]["development_dataset"]["overall"]["accuracy"] == 51.25
    assert meta["submission"]["authors"][1]["affiliation"] == "Qualcomm"


def test_info_errors_are_one_line(tmp_path):
    bad = tmp_path / "info.yaml"
    bad.write_text("submission:\n  abbreviation: MuchTooLongAbbreviation\n")
    with pytest.raises(SubmissionError, match="at 'abbreviation'"):
        load_submission_info(bad)
    bad.write_text("submission: [unclosed\n")
    with pytest.raises(SubmissionError, match="not valid YAML"):
        load_submission_info(bad)
    two = {"submission": {"authors": [{"corresponding": True}, {"corresponding": True}]}}
    with pytest.raises(SubmissionError, match="exactly one author"):
        SubmissionInfo.from_meta(two, "x.yaml")


def test_meta_refuses_failed_noncompliant_and_foreign_entries():
    with pytest.raises(SubmissionError, match="failed"):
        build_meta("Kim_QTI_task1_1", entry(error="crash"))
    fat = entry(parameters=200_000, nonzero=200_000, nbytes=200_000)
    with pytest.raises(SubmissionError, match="noncompliant under dcase2022 .*parameters"):
        build_meta("Kim_QTI_task1_1", fat)
    assert build_meta("Kim_QTI_task1_1", fat, allow_noncompliant=True)
    with pytest.raises(SubmissionError, match="measured under 'dcase2022', not 'dcase2021'"):
        build_meta("Kim_QTI_task1a_1", entry(), RULESETS["dcase2021"])


def test_rewriting_meta_keeps_the_previous_file(tmp_path):
    path = tmp_path / "Kim_QTI_task1_1.meta.yaml"
    path.write_text("# my hand-edited file\n")
    write_meta_yaml(path, "Kim_QTI_task1_1", entry())
    assert (tmp_path / "Kim_QTI_task1_1.meta.yaml.bak").read_text() == "# my hand-edited file\n"


# -- the submit command -------------------------------------------------------------------------


def run_submit(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ascbench submit")
    submit_command.add_arguments(parser)
    return submit_command.run(parser.parse_args(argv), None)


def test_submit_command_end_to_end(tmp_path, capsys):
    store = ResultStore(tmp_path / "results")
    pred = store.predictions_path("kim2021", "dcase2022", 0)
    probs = np.full((3, 10), 0.1)
    write_output_csv(pred, ["audio/0.wav", "audio/1.wav", "audio/2.wav"], probs, keep_paths=True)
    e = entry(artifacts={"predictions": FileRef.of(pred, pred.parent)})
    entry_file = store.write(e)
    out = tmp_path / "submission"
    assert (
        run_submit(["--entry", str(entry_file), "--label", "Kim_QTI_task1_1", "--out", str(out)])
        == 0
    )
    captured = capsys.readouterr()
    csv_path = out / "Kim_QTI_task1_1" / "Kim_QTI_task1_1.output.csv"
    meta_path = out / "Kim_QTI_task1_1" / "Kim_QTI_task1_1.meta.yaml"
    assert captured.out.split() == [str(csv_path), str(meta_path)]
    assert csv_path.read_text().splitlines()[0] == HEADER
    assert csv_path.read_text().splitlines()[1].startswith("0.wav\tairport\t0.1\t")
    assert "fill in" in captured.err and "development-set" not in captured.err
    # hand-filled fields survive a re-run
    meta = yaml.safe_load(meta_path.read_text())
    meta["submission"]["authors"][0]["email"] = "kim@example.org"
    meta_path.write_text(yaml.safe_dump(meta))
    assert (
        run_submit(["--entry", str(entry_file), "--label", "Kim_QTI_task1_1", "--out", str(out)])
        == 0
    )
    again = yaml.safe_load(meta_path.read_text())
    assert again["submission"]["authors"][0]["email"] == "kim@example.org"
    # eval-set mode wants all 118,800 evaluation files
    with pytest.raises(SubmissionError, match="cover 3 evaluation files"):
        run_submit(
            [
                "--entry",
                str(entry_file),
                "--label",
                "Kim_QTI_task1_1",
                "--out",
                str(out),
                "--eval-set",
            ]
        )
    # predictions changed after the run are refused
    pred.write_text(pred.read_text().replace("0.1\t", "0.1000\t", 1))
    with pytest.raises(SubmissionError, match="sha256 mismatch"):
        run_submit(["--entry", str(entry_file), "--label", "Kim_QTI_task1_1", "--out", str(out)])


def test_submit_needs_predictions_and_a_valid_label(tmp_path):
    entry_file = ResultStore(tmp_path).write(entry())
    with pytest.raises(SubmissionError, match="no predictions file is recorded"):
        run_submit(
            ["--entry", str(entry_file), "--label", "Kim_QTI_task1_1", "--out", str(tmp_path)]
        )
    with pytest.raises(SubmissionError, match="needs 'task1'"):
        run_submit(
            ["--entry", str(entry_file), "--label", "Kim_QTI_task1a_1", "--out", str(tmp_path)]
        )


def test_a_long_system_name_becomes_a_readable_abbreviation():
    """The meta's 10-character abbreviation is made from the name's words, never the name
    cut mid-way ('dcase2022_baseline' used to become 'dcase2022_')."""
    from ascbench.submission import abbreviate

    assert abbreviate("dcase2022_baseline") == "D22Bas"
    assert abbreviate("verbitskiy2021_mbconv_mel32") == "V21MbcMel3"
    assert abbreviate("tiny_ok") == "tiny_ok"  # fits: unchanged
    for name in ("cao2021_sys1_proposal", "schmid2023_cpmobile", "puy2021_ce_mu_tta"):
        short = abbreviate(name)
        assert 0 < len(short) <= 10 and not short.endswith("_"), short
