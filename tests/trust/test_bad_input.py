"""Issue 16's bad inputs, each refused up front with one line naming the file and the fix:
paths that leave the dataset, rule-set files in another encoding, a results path that cannot
hold results, header-only audio, and confidence intervals outside a metric's range."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ascbench.cli import main
from ascbench.data import check_dataset, load_dataset
from ascbench.errors import DatasetError, RuleSetError
from ascbench.leaderboard.board import aggregate
from ascbench.rules import load_ruleset_file
from ascbench.scenes import SCENES

RULES = Path(__file__).resolve().parents[2] / "ascbench" / "rulesets" / "dcase2022.toml"


def _clips(root: Path, per_scene: int = 2, seconds: float = 1.0) -> list[str]:
    """``per_scene`` short noise clips per scene under ``root``; their names."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = []
    for scene in SCENES:
        for k in range(per_scene):
            name = f"{scene}-{k}.wav"
            sf.write(root / name, 0.1 * rng.standard_normal(int(8000 * seconds)), 8000)
            names.append(name)
    return names


def _labels(root: Path, names: list[str], extra: list[str] = ()) -> Path:
    rows = ["filename,scene_label,split"]
    rows += [f"{n},{n.rsplit('-', 1)[0]},{'test' if n.endswith('-1.wav') else 'train'}"
             for n in names]  # fmt: skip
    (root / "labels.csv").write_text("\n".join([*rows, *extra]) + "\n")
    return root


def _error(path, **kw) -> str:
    with pytest.raises(DatasetError) as info:
        load_dataset(path, **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_a_label_row_that_climbs_out_of_the_dataset_is_refused_with_file_and_line(tmp_path):
    data = tmp_path / "data"
    names = _clips(data)
    _clips(tmp_path / "other", per_scene=1)
    _labels(data, names, ["../other/airport-0.wav,airport,train"])
    msg = _error(data)
    assert f"labels.csv:{len(names) + 2}" in msg and "points outside the dataset folder" in msg


def test_a_symbolic_link_out_of_the_dataset_is_refused(tmp_path):
    data = tmp_path / "data"
    names = _clips(data)
    (tmp_path / "secret").mkdir()
    sf.write(tmp_path / "secret" / "x.wav", np.zeros(8000), 8000)
    os.symlink(tmp_path / "secret", data / "linked")
    _labels(data, names, ["linked/x.wav,bus,train"])
    assert "through '..' or a symbolic link" in _error(data)


def test_a_tau_split_list_that_climbs_out_is_refused(tmp_path):
    from tests.synthetic import tiny_tau2022

    root = tiny_tau2022(tmp_path / "tau")
    train = root / "evaluation_setup" / "fold1_train.csv"
    train.write_text(train.read_text() + "../../outside/bus-x-1-1-0-a.wav\tbus\n")
    assert "a way out through '..' or a symbolic link" in _error(root)


def test_rule_set_files_in_another_encoding_or_with_a_byte_order_mark(tmp_path):
    latin = tmp_path / "latin1.toml"
    latin.write_bytes(RULES.read_text().replace("Task 1", "Tâsk 1").encode("latin-1"))
    with pytest.raises(RuleSetError, match=r"latin1\.toml: not UTF-8 text .*save the rule-set"):
        load_ruleset_file(latin)
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + RULES.read_bytes())
    assert load_ruleset_file(bom).name == "dcase2022"


def test_run_accepts_skip_missing_which_the_missing_file_error_recommends(tmp_path, capsys):
    data = tmp_path / "data"
    names = _clips(data)
    _labels(data, names)
    (data / names[0]).unlink()
    assert "--skip-missing" in _error(data)
    code = main(["run", "--rules", "dcase2022", "--data", str(data), "--system",
                 "dcase2022_baseline", "--skip-missing", "--results", str(tmp_path / "r"),
                 "--budget", "1", "--no-progress", "--jobs", "1", "--cache",
                 str(tmp_path / "cache")])  # fmt: skip
    assert code in (0, 1), capsys.readouterr().err  # ran (a 1-epoch model may be degenerate)
    assert "unrecognized arguments" not in capsys.readouterr().err


@pytest.mark.parametrize("make", ["file", "under_a_file"])
def test_a_results_path_that_cannot_hold_results_is_refused_before_any_work(tmp_path, capsys,
                                                                           make):  # fmt: skip
    target = tmp_path / "results"
    target.write_text("not a folder")
    if make == "under_a_file":
        target = target / "sub"
    code = main(["run", "--rules", "dcase2022", "--system", "dcase2022_baseline", "--results",
                 str(target), "--budget", "1", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"--results {target}" in err
    assert "features" not in err and "training" not in err  # nothing ran


def test_header_only_audio_is_named_as_such_not_as_a_clip_length(tmp_path):
    data = tmp_path / "data"
    names = _clips(data)
    _labels(data, names)
    whole = (data / names[3]).read_bytes()
    (data / names[3]).write_bytes(whole[:44])  # the RIFF header, no samples
    report = check_dataset(data, headers="all")
    text = " ".join(report.errors)
    assert "hold no samples, only a header" in text and names[3] in text
    assert "mixed clip lengths" not in text


def test_a_boards_accuracy_interval_stays_within_0_and_100_percent():
    """Issue 16 case 10, as a user sees it: three seeds at 0, 2 and 40 % used to give
    [-20.5, 36.0]."""
    from ascbench.leaderboard.board import group_by_ruleset
    from tests.leaderboard.conftest import make_entry

    entries = [make_entry("wobbly", "dcase2022", seed, accuracy=acc)
               for seed, acc in enumerate([0.0, 2.0, 40.0])]  # fmt: skip
    (row,) = group_by_ruleset(entries)["dcase2022"].rows
    low, high = row.accuracy.ci95
    assert low == 0.0 and high <= 100.0 and row.accuracy.mean == pytest.approx(14.0)


def test_accuracy_intervals_stay_within_0_and_100_percent():
    stat = aggregate([0.0, 2.0, 40.0], "accuracy")
    assert stat.ci95[0] == 0.0 and stat.ci95[1] <= 100.0
    assert aggregate([99.0, 100.0, 60.0], "accuracy").ci95[1] == 100.0
    assert aggregate([0.05, 4.0], "log_loss").ci95[0] == 0.0
    assert aggregate([0.0, 2.0, 40.0]).ci95[0] < 0  # a quantity without a range: unclipped


def test_a_named_plugin_that_does_not_load_stops_the_run_before_any_job(tmp_path, capsys):
    code = main(["--plugin", "no_such_plugin_module", "run", "--rules", "dcase2022", "--system",
                 "dcase2022_baseline", "--results", str(tmp_path / "r"), "--budget", "1",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "error: --plugin no_such_plugin_module: failed to import" in err
    assert "training" not in err
