"""One run at a time on a results directory, and the user's own files there left alone."""

from __future__ import annotations

import os

from ascbench.cli import main
from ascbench.jobs.lock import LOCK_FILE, results_lock
from ascbench.leaderboard.render import INDEX_MARK, render_all


def test_a_second_run_on_a_busy_results_directory_refuses_naming_the_holder(tmp_path, capsys):
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
    mine = tmp_path / "index.html"
    mine.write_text("<html><body>my notes</body></html>")
    written = render_all({}, tmp_path, plots=False)
    assert mine.read_text() == "<html><body>my notes</body></html>"
    assert tmp_path / "ascbench-index.html" in written
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
    assert [p.name for p in ResultStore(results).orphaned_job_files()] == [
        "seed0.model.pt", "seed0.predictions.csv"
    ]  # fmt: skip
    # the next run on the directory removes them first, under its lock (whatever it does next)
    main(["run", "--rules", "dcase2022", "--system", "dcase2022_baseline", "--results",
          str(results), "--budget", "1", "--no-progress", "--resume", "--seed", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert "removed 2 files of jobs stopped before their entry was written" in err
    assert not (folder / "seed0.predictions.csv").exists() and kept.exists()
