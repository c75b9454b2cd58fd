"""A plain folder of audio files plus a labels CSV."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ascbench.data.base import Clip
from ascbench.data.folder import assign_splits, load_folder, scan_folder
from ascbench.errors import DatasetError

from .helpers import write_text, write_wav

SCENES6 = ["airport", "bus", "park", "tram", "metro", "park"]


def _folder(tmp_path: Path, header: str, rows: list[str], sep: str = ",", **wav: object) -> Path:
    for row in rows:
        write_wav(tmp_path / row.split(sep)[0], **wav)  # type: ignore[arg-type]
    write_text(tmp_path / "labels.csv", [header, *rows])
    return tmp_path / "labels.csv"


def _error(path: Path, **kw: object) -> str:
    with pytest.raises(DatasetError) as info:
        load_folder(path, **kw)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    return str(info.value)


def test_comma_csv_with_split_column(tmp_path: Path) -> None:
    csv = _folder(tmp_path, "filename,scene_label,device,split,extra", [
        "a/one.wav,airport,a,train,x", "a/two.wav,bus,,train,y", "b/three.wav,park,b,test,z",
        "b/four.wav,bus,c,evaluate,",
    ], sample_rate=16000)  # fmt: skip
    ds = load_folder(tmp_path)  # folder with labels.csv
    assert ds.name == "folder" and ds.root == tmp_path and ds.sample_rate == 16000
    assert [c.filename for c in ds.splits["train"]] == ["a/one.wav", "a/two.wav"]
    assert [c.filename for c in ds.splits["test"]] == ["b/three.wav", "b/four.wav"]
    assert ds.splits["train"][1].device is None and ds.splits["test"][0].device == "b"
    assert load_folder(csv).splits == ds.splits  # the CSV itself works too


def test_tab_csv_crlf_and_tau_style_names(tmp_path: Path) -> None:
    rows = [f"x/{s}-paris-{i}-{i * 10}-a.wav\t{s}" for i, s in enumerate(SCENES6 * 2)]
    for row in rows:
        write_wav(tmp_path / row.split("\t")[0])
    write_text(tmp_path / "labels.csv", ["filename\tscene_label", *rows], crlf=True,
               final_newline=False)
    ds = load_folder(tmp_path / "labels.csv")
    clip = ds.splits["train"][0] if ds.splits["train"] else ds.splits["test"][0]
    assert clip.device == "a" and clip.city == "paris" and clip.identifier.startswith("paris-")
    assert len(ds.splits["train"]) + len(ds.splits["test"]) == 12


def test_deterministic_split_is_location_disjoint_and_order_free(tmp_path: Path) -> None:
    clips = [Clip(filename=f"f{i}.wav", scene_label=s, identifier=f"paris-{i % 4}-{s}")
             for i, s in enumerate(["bus", "park"] * 20)]  # fmt: skip
    first = assign_splits(clips)
    shuffled = clips[:]
    random.Random(1).shuffle(shuffled)
    assert assign_splits(shuffled) == first
    for loc in {c.identifier for c in clips}:
        assert len({first[c.filename] for c in clips if c.identifier == loc}) == 1
    for scene in ("bus", "park"):  # every scene in both splits
        assert {first[c.filename] for c in clips if c.scene_label == scene} == {"train", "test"}
    # without locations each file is its own group: about 30 % test per scene
    plain = [Clip(filename=f"g{i}.wav", scene_label="bus") for i in range(20)]
    assert sum(v == "test" for v in assign_splits(plain).values()) == 6


def test_split_note_without_split_column(tmp_path: Path) -> None:
    _folder(tmp_path, "filename,scene_label", [f"{i}.wav,{s}" for i, s in enumerate(SCENES6)])
    ds = load_folder(tmp_path)
    assert any("no split column" in n for n in ds.notes)


def test_unknown_labels_error_or_skip(tmp_path: Path) -> None:
    _folder(tmp_path, "filename,scene_label,split", [
        "1.wav,bus,train", "2.wav,chainsaw,train", "3.wav,bus,test"])  # fmt: skip
    msg = _error(tmp_path)
    assert "1 rows of" in msg and "labels.csv:3 'chainsaw'" in msg
    assert "--skip-unknown-labels" in msg
    ds = load_folder(tmp_path, skip_unknown_labels=True)
    assert len(ds.splits["train"]) == 1


def test_missing_files_error_or_skip(tmp_path: Path) -> None:
    csv = _folder(tmp_path, "filename,scene_label,split", ["1.wav,bus,train", "3.wav,bus,test"])
    write_text(csv, ["filename,scene_label,split", "1.wav,bus,train", "gone.wav,park,train",
                     "3.wav,bus,test"])  # fmt: skip
    msg = _error(csv)
    assert "1 of 3 files listed in" in msg and "gone.wav" in msg and "--skip-missing" in msg
    ds = load_folder(csv, skip_missing=True)
    assert any("skipped 1 listed files missing" in n and "gone.wav" in n for n in ds.notes)
    assert len(ds.splits["train"]) == 1


def test_bad_rows(tmp_path: Path) -> None:
    _folder(tmp_path, "filename,scene_label,split", ["1.wav,bus,train", "2.wav,bus,holdout"])
    assert "split 'holdout' is not train or test" in _error(tmp_path)
    write_text(tmp_path / "labels.csv", ["filename,scene_label", "/abs/x.wav,bus"])
    assert "is absolute" in _error(tmp_path)


def test_missing_columns(tmp_path: Path) -> None:
    write_text(tmp_path / "labels.csv", ["file;label", "1.wav;bus"])
    msg = _error(tmp_path)
    assert "labels.csv: no 'filename', 'scene_label' column" in msg and "'file', 'label'" in msg


def test_empty_split_and_mixed_lengths(tmp_path: Path) -> None:
    _folder(tmp_path, "filename,scene_label", ["1.wav,bus", "2.wav,park"])
    assert "split is empty" in _error(tmp_path)  # one file per scene: nothing to test on
    csv = _folder(tmp_path / "m", "filename,scene_label,split", ["1.wav,bus,train"],
                  seconds=10.0)  # fmt: skip
    write_wav(tmp_path / "m" / "2.wav", seconds=1.0)
    write_text(csv, ["filename,scene_label,split", "1.wav,bus,train", "2.wav,bus,test"])
    assert "mixed clip lengths" in _error(csv)


def test_no_labels_csv(tmp_path: Path) -> None:
    write_wav(tmp_path / "x.wav")
    report = scan_folder(tmp_path)
    assert "no labels CSV" in report.errors[0] and "labels.csv" in report.errors[0]
