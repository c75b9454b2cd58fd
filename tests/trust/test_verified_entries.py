"""Entries whose numbers can be checked (issue 16): publish recomputes every metric from the
predictions and test labels the run wrote beside the entry, and refuses an entry edited and
hashed again."""

from __future__ import annotations

import json
import shutil

import pytest

from ascbench.cli import main
from ascbench.leaderboard import ResultStore
from ascbench.leaderboard.entry import parse_entry
from tests.core.test_run import TINY
from tests.synthetic import tiny_tau2022


@pytest.fixture(scope="module")
def results(tmp_path_factory, plugin_dir_module):
    tmp = tmp_path_factory.mktemp("verified")
    data = tiny_tau2022(tmp / "data")
    out = tmp / "results"
    code = main(["--plugin", plugin_dir_module, "run", "--rules", "dcase2022", "--data",
                 str(data), "--results", str(out), "--budget", "2", "--no-progress",
                 "--cache", str(tmp / "cache"), "--jobs", "1", "--system", "tiny_ok",
                 "--seeds", "0,1"])  # fmt: skip
    assert code == 0
    return out


@pytest.fixture(scope="module")
def plugin_dir_module(tmp_path_factory):
    import sys

    folder = tmp_path_factory.mktemp("plugin")
    (folder / "verify_tiny_plugin.py").write_text(TINY)
    sys.path.insert(0, str(folder))
    yield "verify_tiny_plugin"
    sys.path.remove(str(folder))


def _copy(results, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    return copy


def _entry_file(results, seed=0):
    return results / "dcase2022" / "tiny_ok" / f"seed{seed}.json"


def _publish(inputs, out, capsys):
    code = main(["leaderboard", "publish", *map(str, inputs), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_run_writes_its_test_labels_and_publish_verifies_every_entry(results, tmp_path, capsys):
    entry = ResultStore(results).get("tiny_ok", "dcase2022", 0)
    assert set(entry.artifacts) >= {"predictions", "truth", "model"}
    code, out, err = _publish([results], tmp_path / "pub", capsys)
    assert code == 0, err
    assert "verified: 2 of 2 entries" in out
    # the published board carries the evidence: publishing it again verifies again
    assert (tmp_path / "pub" / "dcase2022" / "tiny_ok" / "seed0.truth.csv").is_file()
    code, out, err = _publish([tmp_path / "pub" / "dcase2022.json"], tmp_path / "again", capsys)
    assert code == 0 and "verified: 2 of 2 entries" in out, err


def test_an_edited_and_rehashed_entry_is_refused_naming_the_metric(results, tmp_path, capsys):
    copy = _copy(results, tmp_path)
    path = _entry_file(copy)
    data = json.loads(path.read_text())
    data["metrics"]["accuracy"] = 97.5
    forged = parse_entry(data, str(path), verify=False).with_hash()
    path.write_text(forged.model_dump_json(indent=2))
    assert parse_entry(json.loads(path.read_text()), str(path)).entry_hash  # hash is valid
    code, _, err = _publish([copy], tmp_path / "pub", capsys)
    assert code == 1 and not (tmp_path / "pub").exists()
    assert "tiny_ok under dcase2022, seed 0: accuracy 97.5 (recomputed:" in err
    assert "do not match its predictions" in err


def test_edited_predictions_or_labels_are_caught(results, tmp_path, capsys):
    copy = _copy(results, tmp_path)
    predictions = _entry_file(copy).with_suffix(".predictions.csv")
    predictions.write_text(predictions.read_text().replace("\t0.", "\t0.0", 1))
    code, _, err = _publish([copy], tmp_path / "pub", capsys)
    assert code == 1 and "does not match the SHA-256 its entry records" in err
    # labels edited and the entry re-pointed at them: the other seed's labels disagree
    copy = _copy(results, tmp_path / "b")
    path = _entry_file(copy)
    truth = path.with_suffix(".truth.csv")
    lines = truth.read_text().splitlines()
    first = lines[1].split("\t")
    first[1] = "park" if first[1] != "park" else "bus"
    truth.write_text("\n".join([lines[0], "\t".join(first), *lines[2:]]) + "\n")
    from ascbench.leaderboard.entry import FileRef

    data = json.loads(path.read_text())
    data["artifacts"]["truth"] = FileRef.of(truth, path.parent).model_dump()
    entry = parse_entry(data, str(path), verify=False).with_hash()
    path.write_text(entry.model_dump_json(indent=2))
    code, _, err = _publish([copy], tmp_path / "pub2", capsys)
    assert code == 1
    assert "do not match its predictions" in err or "test labels differ" in err


def test_signed_boards_verify_with_the_publishers_key_and_not_after_an_edit(results, tmp_path,
                                                                             capsys):  # fmt: skip
    key = tmp_path / "keys" / "publisher"
    assert main(["leaderboard", "keygen", str(key)]) == 0
    assert (key.stat().st_mode & 0o777) == 0o600
    assert main(["leaderboard", "keygen", str(key)]) == 2  # never overwritten
    pub = tmp_path / "pub"
    assert main(["leaderboard", "publish", str(results), "--out", str(pub), "--sign",
                 str(key)]) == 0  # fmt: skip
    assert (pub / "dcase2022.json.sig").is_file()
    capsys.readouterr()
    assert main(["leaderboard", "verify", str(pub), "--public-key", f"{key}.pub"]) == 0
    out = capsys.readouterr().out
    assert "verified: 2 of 2 entries" in out and "every board is signed" in out
    # another key does not verify; an edited board does not verify
    other = tmp_path / "keys" / "other"
    main(["leaderboard", "keygen", str(other)])
    assert main(["leaderboard", "verify", str(pub), "--public-key", f"{other}.pub"]) == 1
    assert "signature does not match" in capsys.readouterr().err
    board = pub / "dcase2022.json"
    board.write_text(board.read_text().replace('"tiny_ok"', '"tiny_ok" ', 1))
    assert main(["leaderboard", "verify", str(board), "--public-key", f"{key}.pub"]) == 1


def test_merge_verifies_too_and_keeps_the_evidence(results, tmp_path, capsys):
    merged = tmp_path / "merged"
    assert main(["leaderboard", "merge", str(results), "--out", str(merged)]) == 0
    assert "verified: 2 of 2 entries" in capsys.readouterr().out
    assert (merged / "dcase2022" / "tiny_ok" / "seed1.truth.csv").is_file()
    code, out, err = _publish([merged], tmp_path / "pub", capsys)
    assert code == 0 and "verified: 2 of 2 entries" in out, err
    copy = _copy(results, tmp_path / "forged")
    path = _entry_file(copy, seed=1)
    data = json.loads(path.read_text())
    data["metrics"]["log_loss"] = 0.01
    path.write_text(parse_entry(data, str(path), verify=False).with_hash().model_dump_json())
    assert main(["leaderboard", "merge", str(copy), "--out", str(tmp_path / "m2")]) == 1
    err = capsys.readouterr().err
    assert "seed 1: log_loss 0.01 (recomputed:" in err and "merge refused" in err
    assert not (tmp_path / "m2").exists()
