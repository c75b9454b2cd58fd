"""The TAU development-set loader: parsing, parent mapping, 2024 splits, integrity errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ascbench.data.tau import load_tau, parent_of, parse_name, scan_tau
from ascbench.errors import DatasetError

from .helpers import build_tau, write_text, write_wav


def _error(root: Path, **kw: object) -> str:
    with pytest.raises(DatasetError) as info:
        load_tau(root, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg, "messages must be one line"
    return msg


def test_loads_2022_with_meta_fields_and_parents(tau2022: Path) -> None:
    ds = load_tau(tau2022)
    assert ds.name == "tau2022-mobile-dev"
    assert ds.clip_seconds == 1.0 and ds.sample_rate == 8000
    assert [len(ds.splits[s]) for s in ("train", "test")] == [5, 4]
    clip = ds.splits["train"][0]
    assert clip.filename == "audio/airport-lisbon-1000-40000-0-a.wav"
    assert clip.scene_label == "airport" and clip.device == "a" and clip.city == "lisbon"
    # identifier from meta.csv, not dcase_util's 'lisbon-1000-40000'
    assert clip.identifier == "lisbon-1000"
    assert clip.parent == "audio/airport-lisbon-1000-40000-a.wav"
    assert {c.device for c in ds.splits["test"]} == {"a", "s4", "c"}


def test_device_city_identifier_come_from_meta_csv(tau2022: Path) -> None:
    meta = tau2022 / "meta.csv"
    text = meta.read_text().replace("lisbon-1000\ta", "lisbon-77\tzz")
    meta.write_text(text)
    clip = load_tau(tau2022).splits["train"][0]
    assert (clip.identifier, clip.city, clip.device) == ("lisbon-77", "lisbon", "zz")


def test_loads_2020_without_parents(tau2020: Path) -> None:
    ds = load_tau(tau2020)
    assert ds.name == "tau2020-mobile-dev" and ds.clip_seconds == 10.0
    assert all(c.parent is None for c in ds.splits["train"] + ds.splits["test"])
    assert ds.splits["test"][0].filename == "audio/airport-barcelona-203-6129-a.wav"


def test_parse_name_and_parent_of() -> None:
    assert parent_of("audio/airport-lisbon-1000-40000-0-a.wav") == \
        "audio/airport-lisbon-1000-40000-a.wav"
    assert parent_of("audio/street_traffic-milan-1-2-9-s6.wav") == \
        "audio/street_traffic-milan-1-2-s6.wav"
    assert parent_of("audio/airport-barcelona-0-0-a.wav") is None  # a 2020 name
    assert parent_of("audio/17.wav") is None
    name = parse_name("audio/metro_station-paris-5-6-s2.wav")
    assert name is not None and (name.scene, name.identifier, name.device, name.k) == \
        ("metro_station", "paris-5", "s2", None)
    assert parse_name("audio/bus-x-y.wav") is None


@pytest.mark.parametrize("crlf,final_newline", [(True, True), (True, False), (False, False)])
def test_crlf_and_missing_final_newline(tmp_path: Path, crlf: bool, final_newline: bool) -> None:
    ref = load_tau(build_tau(tmp_path / "lf", "2022"))
    root = build_tau(tmp_path / "other", "2022", crlf=crlf, final_newline=final_newline)
    if crlf:
        assert b"\r\n" in (root / "meta.csv").read_bytes()
    if not final_newline:
        assert not (root / "evaluation_setup" / "fold1_train.csv").read_bytes().endswith(b"\n")
    ds = load_tau(root)
    assert ds.splits == ref.splits


def test_columns_are_read_by_header_name(tau2022: Path) -> None:
    lines = (tau2022 / "meta.csv").read_text().splitlines()
    swapped = ["\t".join(reversed(line.split("\t"))) for line in lines]  # source_label first
    write_text(tau2022 / "meta.csv", swapped)
    clip = load_tau(tau2022).splits["train"][2]
    assert (clip.device, clip.identifier, clip.scene_label) == ("b", "paris-20", "bus")


def test_audio_prefix_is_normalised(tau2022: Path) -> None:
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    text = train.read_text().replace("audio/airport", "airport").replace("audio/bus",
                                                                         "audio/audio/bus")
    train.write_text(text)
    names = [c.filename for c in load_tau(tau2022).splits["train"]]
    assert names[0] == "audio/airport-lisbon-1000-40000-0-a.wav"
    assert names[2] == "audio/bus-paris-20-500-0-b.wav"


def test_2024_split_files(tau2022: Path) -> None:
    train = [n for n in (tau2022 / "evaluation_setup" / "fold1_train.csv").read_text().split()
             if n.startswith("audio/")][:2]
    write_text(tau2022 / "split_setup" / "split25.csv", ["filename", *train], crlf=True)
    write_text(tau2022 / "split_setup" / "test.csv",
               ["filename\tscene_label", "audio/tram-vienna-7-70-0-c.wav\ttram"])
    ds = load_tau(tau2022, split="split25")
    assert [c.filename for c in ds.splits["train"]] == train
    assert ds.splits["train"][0].scene_label == "airport"  # label joined from meta.csv
    assert [c.filename for c in ds.splits["test"]] == ["audio/tram-vienna-7-70-0-c.wav"]
    assert ds.name == "tau2022-mobile-dev-split25"
    assert any("split25.csv" in n for n in ds.notes)
    # a path to a split file works too; test falls back to fold1_evaluate.csv
    (tau2022 / "split_setup" / "test.csv").unlink()
    ds = load_tau(tau2022, split=str(tau2022 / "split_setup" / "split25.csv"))
    assert len(ds.splits["test"]) == 4


def test_missing_2024_split_file_says_where_to_get_it(tau2022: Path) -> None:
    msg = _error(tau2022, split="split10")
    assert "split10.csv: split file not found" in msg
    assert "dcase2024_task1_baseline/releases" in msg and "split_setup" in msg


def test_unknown_split_name(tau2022: Path) -> None:
    assert "unknown split 'fold7'" in _error(tau2022, split="fold7")


def test_wrong_level_one_up(tau2022: Path) -> None:
    msg = _error(tau2022.parent)
    assert f"TAU dataset root is at {tau2022}" in msg and "pass that folder instead" in msg


def test_wrong_level_one_down(tau2022: Path) -> None:
    msg = _error(tau2022 / "audio")
    assert f"TAU dataset root is at {tau2022}" in msg


def test_nothing_found_nearby(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    msg = _error(tmp_path / "empty")
    assert "not a TAU dataset root" in msg and "one level up or down" in msg


def test_meta_archive_not_extracted(tmp_path: Path) -> None:
    root = build_tau(tmp_path / "TAU-urban-acoustic-scenes-2022-mobile-development", "2022",
                     meta=False, setup=False)
    msg = _error(root)
    assert "meta.csv is missing" in msg
    assert "TAU-urban-acoustic-scenes-2022-mobile-development.meta.zip" in msg


def test_meta_archive_year_guessed_from_file_names(tmp_path: Path) -> None:
    root = build_tau(tmp_path / "mydata", "2020", meta=False, setup=False)
    assert "TAU-urban-acoustic-scenes-2020-mobile-development.meta.zip" in _error(root)


def test_meta_zip_found_next_to_it_is_named(tmp_path: Path) -> None:
    root = build_tau(tmp_path / "d", "2022", meta=False, setup=False)
    (tmp_path / "d" / "x.meta.zip").write_bytes(b"PK")
    assert f"unzip {root / 'x.meta.zip'} into {root}" in _error(root)


def test_setup_files_missing_name_the_meta_archive(tau2022: Path) -> None:
    (tau2022 / "evaluation_setup" / "fold1_train.csv").unlink()
    msg = _error(tau2022)
    assert "fold1_train.csv is missing" in msg and "2022-mobile-development.meta.zip" in msg


def test_audio_not_extracted(tmp_path: Path) -> None:
    root = build_tau(tmp_path / "TAU-urban-acoustic-scenes-2020-mobile-development", "2020",
                     audio=False)
    msg = _error(root)
    assert "audio is missing or empty" in msg
    assert "TAU-urban-acoustic-scenes-2020-mobile-development.audio.1.zip" in msg


def test_missing_files_are_an_error_by_default(tau2022: Path) -> None:
    (tau2022 / "audio" / "bus-paris-20-500-1-b.wav").unlink()
    (tau2022 / "audio" / "tram-vienna-7-70-0-c.wav").unlink()
    msg = _error(tau2022)
    assert "2 of 9 listed files are missing" in msg
    assert "train 1, test 1" in msg
    assert "audio/bus-paris-20-500-1-b.wav" in msg and "--skip-missing" in msg


def test_missing_files_can_be_skipped_and_are_recorded(tau2022: Path) -> None:
    (tau2022 / "audio" / "bus-paris-20-500-1-b.wav").unlink()
    ds = load_tau(tau2022, skip_missing=True)
    assert [len(ds.splits[s]) for s in ("train", "test")] == [4, 4]
    note = next(n for n in ds.notes if n.startswith("skipped"))
    assert "skipped 1 listed files missing" in note and "bus-paris-20-500-1-b.wav" in note
    assert any("clips used: train 4, test 4" in n for n in ds.notes)


def test_unreadable_audio(tau2022: Path) -> None:
    (tau2022 / "audio" / "park-helsinki-30-600-0-s1.wav").write_bytes(b"not audio at all" * 20)
    msg = _error(tau2022)
    assert "cannot be read" in msg and "park-helsinki-30-600-0-s1.wav" in msg


def test_mixed_clip_lengths_from_headers(tau2022: Path) -> None:
    write_wav(tau2022 / "audio" / "bus-paris-20-500-0-b.wav", seconds=10.0)
    msg = _error(tau2022)
    assert "mixed clip lengths" in msg and "bus-paris-20-500-0-b.wav" in msg


def test_mixed_2020_and_2022_names(tau2022: Path) -> None:
    write_wav(tau2022 / "audio" / "bus-paris-20-501-b.wav", seconds=1.0)
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    train.write_text(train.read_text() + "audio/bus-paris-20-501-b.wav\tbus\n")
    assert "mixed 10-s (2020) and 1-s (2022) file names" in _error(tau2022)


def test_clip_length_must_match_the_rule_set(tau2020: Path) -> None:
    msg = _error(tau2020, clip_seconds=1.0)
    assert "clips are 10 s long but 1-s clips are required" in msg


def test_unknown_labels(tau2022: Path) -> None:
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    train.write_text(train.read_text().replace("\tbus", "\tbusstop"))
    msg = _error(tau2022)
    assert "not DCASE scenes" in msg and "fold1_train.csv:4 'busstop'" in msg


def test_files_in_both_splits(tau2022: Path) -> None:
    test = tau2022 / "evaluation_setup" / "fold1_evaluate.csv"
    test.write_text(test.read_text() + "audio/bus-paris-20-500-0-b.wav\tbus\n")
    assert "listed in both the train and the test list" in _error(tau2022)


def test_header_row_missing(tau2022: Path) -> None:
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    train.write_text("\n".join(train.read_text().splitlines()[1:]) + "\n")
    msg = _error(tau2022)
    assert "fold1_train.csv: no 'filename' column in the header row" in msg


def test_evaluation_set_is_recognised(tmp_path: Path) -> None:
    root = tmp_path / "TAU-urban-acoustic-scenes-2023-mobile-evaluation"
    write_text(root / "evaluation_setup" / "fold1_test.csv", ["filename", "audio/0.wav"])
    write_wav(root / "audio" / "0.wav")
    assert "this is an evaluation set" in _error(root)


def test_leakage_warnings(tau2022: Path) -> None:
    # put one clip of the test recording's parent into train
    test = tau2022 / "evaluation_setup" / "fold1_evaluate.csv"
    train = tau2022 / "evaluation_setup" / "fold1_train.csv"
    test.write_text(test.read_text().replace("audio/airport-barcelona-203-6129-1-a.wav\tairport\n",
                                             ""))
    train.write_text(train.read_text() + "audio/airport-barcelona-203-6129-1-a.wav\tairport\n")
    report = scan_tau(tau2022)
    assert not report.errors
    assert any("both train and test" in w and "barcelona-203" in w for w in report.warnings)
    assert any("1-s clips in both train" in w for w in report.warnings)


def test_synthetic_marker_names_the_dataset(tau2022: Path, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(tau2022, root)
    (root / "synthetic.json").write_text('{"generator": "x", "version": 1, '
                                         '"config": {"style": "tau2022", "seed": 3}}')
    ds = load_tau(root)
    assert ds.name == "synthetic-tau2022"
    assert any("NOT comparable with DCASE" in n for n in ds.notes)
