"""One run at a time on a results directory, and the user's own files there left alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from ascbench.cli import main
from tests.synthetic import tiny_tau2022

#: A plugin whose one system trains slowly (its forward pass sleeps): a run that holds its
#: results directory for as long as the test needs.
SLOW = """
import time
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, TrainingRecipe

class Slow(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3)):
        super().__init__()
        self.fc = torch.nn.Linear(input_shape[0], num_classes)

    def forward(self, x):
        time.sleep(0.5)
        return self.fc(x.mean(dim=(2, 3)))

@hookimpl
def register_models():
    return [Model("slow_net", Slow, "sleeps in every forward pass")]

@hookimpl
def register_systems():
    return [System(name="slow", title="slow", report="test", challenge="dcase2022",
                   frontend=ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024,
                                                                "hop_length": 512}),
                   model=ComponentRef(name="slow_net"),
                   recipe=TrainingRecipe(epochs=100, batch_size=4))]
"""


def test_two_runs_on_one_results_directory_do_not_both_write_it(tmp_path):
    """Issue 16 case 4: a second `ascbench run` on a directory another run is writing refuses
    at once, naming the first (before the lock, both ran every job and raced on the board)."""
    (tmp_path / "slow_plugin.py").write_text(SLOW)
    data = tiny_tau2022(tmp_path / "data")
    results = tmp_path / "results"
    args = ["--plugin", "slow_plugin", "run", "--system", "slow", "--data", str(data),
            "--results", str(results), "--cache", str(tmp_path / "cache"), "--no-progress",
            "--budget", "100", "--jobs", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    first = subprocess.Popen([sys.executable, "-m", "ascbench", *args], env=env,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for line in first.stderr:  # the first run is training: it holds the directory
            if "training" in line:
                break
        time.sleep(0.5)
        assert first.poll() is None, "the first run ended before the second started"
        try:
            second = subprocess.run([sys.executable, "-m", "ascbench", *args], env=env,
                                    capture_output=True, text=True, timeout=90)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AssertionError("the second run did not refuse: it was still running (both "
                                 "runs training into one directory) after 90 s") from None
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"another ascbench run is writing here (pid {first.pid}" in second.stderr
        assert "--wait" in second.stderr and "starting" not in second.stderr
    finally:
        first.kill()
        first.wait()


def test_a_second_run_on_a_busy_results_directory_refuses_naming_the_holder(tmp_path, capsys):
    from ascbench.jobs.lock import LOCK_FILE, results_lock

    results = tmp_path / "results"
    with results_lock(results):
        code = main(["run", "--rules", "dcase2022", "--system", "dcase2022_baseline",
                     "--results", str(results), "--budget", "1", "--no-progress"])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2
        assert f"another ascbench run is writing here (pid {os.getpid()}" in err
        assert "--wait" in err and "features" not in err
    # released when the holder's block ends (or its process dies): the lock is taken again
    with results_lock(results):
        assert (results / LOCK_FILE).is_file()


def test_the_users_own_index_html_is_left_alone(tmp_path):
    from ascbench.leaderboard.render import render_all

    mine = tmp_path / "index.html"
    mine.write_text("<html><body>my notes</body></html>")
    written = render_all({}, tmp_path, plots=False)
    assert mine.read_text() == "<html><body>my notes</body></html>"
    assert tmp_path / "ascbench-index.html" in written
    from ascbench.leaderboard.render import INDEX_MARK

    # an index ascbench wrote is rewritten in place
    (tmp_path / "ascbench-index.html").unlink()
    mine.unlink()
    render_all({}, tmp_path, plots=False)
    assert INDEX_MARK in mine.read_text()
    assert tmp_path / "index.html" in render_all({}, tmp_path, plots=False)


def test_files_of_a_job_stopped_before_its_entry_are_removed_by_the_next_run(tmp_path, capsys):
    from ascbench.leaderboard import ResultStore

    results = tmp_path / "results"
    folder = results / "dcase2022" / "dcase2022_baseline"
    folder.mkdir(parents=True)
    (folder / "seed0.predictions.csv").write_text("filename\tscene_label\n")
    (folder / "seed0.model.pt").write_bytes(b"x")
    kept = folder / "seed1.predictions.csv"  # has its entry: not an orphan
    kept.write_text("x")
    (folder / "seed1.json").write_text("{}")
    # the next run on the directory removes them first, under its lock (whatever it does next)
    main(["run", "--rules", "dcase2022", "--system", "dcase2022_baseline", "--results",
          str(results), "--budget", "1", "--no-progress", "--resume", "--seed", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert not (folder / "seed0.predictions.csv").exists() and kept.exists()
    assert not (folder / "seed0.model.pt").exists()
    assert "removed 2 files of jobs stopped before their entry was written" in err
    assert ResultStore(results).orphaned_job_files() == []
