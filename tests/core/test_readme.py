"""The README's quick start and CI's command stay the same commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```\n(.*?)```", section, re.S)]


def test_quick_start_is_two_commands():
    commands = _quick_start_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert commands[0].startswith("pip install torch==2.13.0") and "ascbench " in commands[0]
    assert commands[1].endswith("pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _quick_start_commands()[1] in ci


# -- the default run's table: generated from leaderboard/default-run/ ---------------------------
def _readme_results():
    from tests.scripts import load_script

    return load_script("scripts/readme_results.py", "ascbench_readme_results")


def test_the_default_run_block_matches_the_committed_results(capsys):
    """README.md's default-run table and run line are what scripts/readme_results.py makes of
    leaderboard/default-run/ (after a new run: `python scripts/readme_results.py --from
    results/ --write`)."""
    code = _readme_results().main(["--check"])
    assert code == 0, capsys.readouterr().err


def test_a_hand_edited_results_file_or_readme_is_refused(tmp_path, capsys):
    import json
    import shutil

    script = _readme_results()
    committed = tmp_path / "default-run"
    shutil.copytree(script.COMMITTED, committed)
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    args = ["--committed", str(committed), "--readme", str(readme)]
    assert script.main(["--check", *args]) == 0

    text = readme.read_text()
    block = text.split(script.BEGIN, 1)[1].split(script.END, 1)[0]
    row = next(line for line in block.splitlines() if line.startswith("| ") and "`" in line)
    readme.write_text(text.replace(row, row.replace("`", "`*", 1)))
    assert script.main(["--check", *args]) == 1  # README edited by hand
    assert script.main(["--write", *args]) == 0
    assert readme.read_text() == text

    facts = json.loads((committed / "run.json").read_text())
    board_path = committed / facts["board"]
    board = json.loads(board_path.read_text())
    row = next(r for r in board["rows"] if r.get("accuracy"))
    row["accuracy"]["mean"] += 1.0  # a row typed over
    board_path.write_text(json.dumps(board))
    assert script.main(["--check", *args]) == 2
    assert "accuracy differs from its entries" in capsys.readouterr().err
    row["accuracy"]["mean"] -= 1.0
    entry = next(e for e in board["entries"] if e.get("metrics"))
    entry["metrics"]["log_loss"] += 0.01  # an entry typed over
    board_path.write_text(json.dumps(board))
    assert script.main(["--check", *args]) == 2
    assert "entry_hash" in capsys.readouterr().err


def test_any_board_status_is_shown_as_the_board_has_it():
    status = _readme_results()._status
    row = {"status": "noncompliant", "seeds": [0, 1], "failed_seeds": [1],
           "limits": {"parameters": "pass", "macs": "fail"}}  # fmt: skip
    assert status(row) == "noncompliant (MACs; 1/2 seeds failed)"
    assert status({"status": "degenerate", "seeds": [0], "limits": {}}) == "degenerate"
    assert status({"status": "failed", "seeds": [0], "failed_seeds": [0]}) == "failed"
    both = {"status": "noncompliant", "seeds": [0], "limits": {"macs": "fail"},
            "degenerate": ["predicts one class"]}  # fmt: skip
    assert status(both) == "noncompliant (MACs; degenerate)"
    why = _readme_results()._why
    assert why(both) == ["predicts one class"]
    assert why({"status": "degenerate", "reasons": [], "degenerate": ["a", "b"]}) == ["a", "b"]
    assert why({"status": "failed", "reasons": ["boom\n  here"]}) == ["boom here"]
    assert why({"status": "ok", "reasons": ["a note"], "degenerate": []}) == []


def test_the_plugins_are_installed_by_a_pip_call_of_their_own():
    """In one pip call with `-e '.[test]'`, pip 23.2 does not let the editable ascbench satisfy
    the plugins' `ascbench>=0.1` (no version found), so every command the README and CI give
    installs ./plugins/*/ by a pip call that installs nothing else."""
    lines = [
        line
        for path in ("README.md", ".ci/run", "tox.ini")
        for line in (ROOT / path).read_text().splitlines()
        if "plugins/*/" in line and "pip install" in line
    ]
    assert len(lines) >= 5
    for line in lines:
        calls = [c.strip() for c in re.split(r"&&|;", line.split("#", 1)[0])]
        plugin_calls = [c for c in calls if "plugins/*/" in c]
        assert plugin_calls, line
        for call in plugin_calls:
            installed = call.split("pip install", 1)[1].strip("\"' ").split()
            assert installed and all("plugins/*/" in w for w in installed), line


@pytest.mark.parametrize(
    "script",
    [
        "readme_cli_startup.py",  # start-up numbers from the committed benchmark JSON
        "readme_profile_time.py",  # profile time from the committed benchmark JSON
        "readme_training_speed.py",  # training-step speed from the committed benchmark JSON
        "readme_rulesets.py",  # the rule-set table from ascbench/rulesets/*.toml
        "readme_waveform_cost.py",  # waveform-augmentation cost from the benchmark JSON
        "readme_fingerprint_cost.py",  # fingerprint cost from the benchmark JSON
    ],
)
def test_the_generated_readme_blocks_are_current(script):
    import subprocess
    import sys

    path = ROOT / "scripts" / script
    out = subprocess.run([sys.executable, str(path), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_benchmark_extra_exists_and_the_readme_names_it():
    """The pytest plugin's fixtures need pytest-benchmark, which the quick-start install lacks:
    the `bench` extra brings it, and the README's benchmark section says so."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("pytest-benchmark") for d in extras["bench"])
    section = (ROOT / "README.md").read_text().split("### Profiling latency and MACs", 1)[1]
    assert "pip install -e '.[bench]'" in section.split("\n## ", 1)[0]


def test_the_readme_documents_every_exit_status():
    text = (ROOT / "README.md").read_text()
    assert "Exit status: 0 when everything ran; 1 when `run` wrote a `failed`" in text
    assert "2 for an error the user can act on" in text and "run --workers N" in text
