"""The command line as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ascbench.cli import main
from ascbench.profiling import ProfileResult

from .test_plugins import GOOD


def test_help_works_as_module_and_script():
    out = subprocess.run(
        [sys.executable, "-m", "ascbench", "--help"], capture_output=True, text=True, check=True
    )
    assert "profile" in out.stdout and "plugins" in out.stdout


@pytest.mark.parametrize(
    "command",
    ["run", "profile", "leaderboard", "data", "submit", "rules", "plugins", "new-plugin"],
)
def test_every_commands_help_imports_no_torch_numpy_or_pydantic(command):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ascbench", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert command in out.stdout
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines()}
    assert not imported & {"torch", "numpy", "pydantic"}


@pytest.fixture
def tiny(plugin_dir):
    return plugin_dir("cli_tiny", GOOD.format(model="cli_tiny_model", system="cli_tiny_sys"))


def test_plugins_lists_registrations(tiny, capsys):
    assert main(["--plugin", tiny, "plugins"]) == 0
    out = capsys.readouterr().out
    assert "cli_tiny (--plugin: cli_tiny) ok" in out
    assert "systems: cli_tiny_sys" in out


def test_plugins_shows_failures_and_exits_nonzero(plugin_dir, tiny, capsys):
    broken = plugin_dir("cli_broken", "raise ImportError('needs libfoo')\n")
    assert main(["--plugin", broken, "--plugin", tiny, "plugins", "--json"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert "needs libfoo" in by_name["cli_broken"]["errors"][0]
    assert by_name["cli_tiny"]["registered"]["system"] == ["cli_tiny_sys"]
    assert "warning: plugin 'cli_broken'" in captured.err


def test_profile_json_and_detail(tiny, tmp_path, capsys):
    out_file = tmp_path / "profile.json"
    code = main(
        [
            "--plugin",
            tiny,
            "profile",
            "--rules",
            "dcase2022",
            "--system",
            "cli_tiny_sys",
            "--detail",
            "--json",
            str(out_file),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "cli_tiny_sys" in out and "fvcore cross-check" in out
    result = ProfileResult.model_validate_json(out_file.read_text())
    (profile,) = result.systems
    c = profile.complexity
    assert c.input_shape == [1, 1, 40, 51]
    assert c.parameters == 40 * 51 * 10 + 10
    assert c.macs == 40 * 51 * 10 + 10
    assert profile.status == "pass"


def test_profile_under_dcase2021_uses_ten_second_clips(tiny, capsys):
    assert (
        main(["--plugin", tiny, "profile", "--rules", "dcase2021", "--system", "cli_tiny_sys"]) == 1
    )
    out = capsys.readouterr().out
    # the tiny model is built for 40x51 but fed 10 s (501 frames): a clear error row, not a crash
    assert "error" in out and "cli_tiny_sys" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["profile", "--rules", "dcase2099"], "unknown ruleset 'dcase2099'"),
        (["profile", "--system", "nope"], "unknown system 'nope'"),
        (["rules", "show", "missing.toml"], "missing.toml: rule-set file not found"),
    ],
)
def test_errors_are_one_line_with_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ascbench: error: ") and message in err[0]


def test_conflicting_plugins_stop_profile(plugin_dir, capsys):
    one = plugin_dir("cli_dup1", GOOD.format(model="dupm", system="s1"))
    two = plugin_dir("cli_dup2", GOOD.format(model="dupm", system="s2"))
    assert main(["--plugin", one, "--plugin", two, "profile"]) == 2
    err = capsys.readouterr().err
    assert "model 'dupm' is registered by both plugin 'cli_dup1' and plugin 'cli_dup2'" in err


def test_rules_schema_and_show(capsys):
    assert main(["rules", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "limits" in schema["properties"]
    assert main(["rules", "show", "dcase2022", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["limits"][1]["maximum"] == 30_000_000
