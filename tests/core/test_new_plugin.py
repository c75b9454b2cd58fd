"""`ascbench new-plugin`: the files it writes, the names it refuses, and a generated plugin
built as a wheel, installed into a fresh virtual environment and run there."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ascbench.build import build_model, feature_shape
from ascbench.cli import main
from ascbench.plugins import load_registry
from ascbench.scaffold import ScaffoldError, plugin_names

from .conftest import make_distribution

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILES = {
    "pyproject.toml",
    "README.md",
    "src/ascbench_demo_net/__init__.py",
    "src/ascbench_demo_net/plugin.py",
    "src/ascbench_demo_net/models/__init__.py",
    "src/ascbench_demo_net/models/small_cnn.py",
    "tests/test_plugin.py",
}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _last_error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    assert lines[0].startswith("ascbench: error:")
    return lines[0]


@pytest.fixture
def generated(tmp_path, capsys) -> Path:
    assert main(["new-plugin", "demo-net", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pip install -e" in out and "--system demo_net" in out
    return tmp_path / "ascbench-demo-net"


# -- names ----------------------------------------------------------------------------------


def test_names_derive_from_one_name():
    names = plugin_names("My-Net")
    assert (names.name, names.package, names.dist, names.model) == (
        "my_net", "ascbench_my_net", "ascbench-my-net", "my_net_cnn",
    )  # fmt: skip
    assert plugin_names("ascbench-my_net") == names  # the prefix is not doubled
    assert plugin_names("kws2").name == "kws2"


@pytest.mark.parametrize(
    "bad", ["2net", "my net", "my.net", "-net", "net-", "my--net", "ascbench-", "", "née", "a/b"]
)
def test_names_that_cannot_become_a_package_are_refused(bad, tmp_path, capsys):
    with pytest.raises(ScaffoldError, match="invalid plugin name"):
        plugin_names(bad)
    assert main(["new-plugin", "--dir", str(tmp_path), "--", bad]) == 2
    assert "invalid plugin name" in _last_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_name_of_ascbench_itself_is_refused(tmp_path, capsys):
    assert main(["new-plugin", "ascbench", "--dir", str(tmp_path)]) == 2
    assert "taken by ascbench" in _last_error(capsys)


def test_name_of_an_installed_plugin_is_refused(plugin_dir, tmp_path, capsys):
    make_distribution(plugin_dir.path, "ascbench-taken", "1.0", {"taken": "somewhere.plugin"})
    target = tmp_path / "out"
    assert main(["new-plugin", "taken", "--dir", str(target)]) == 2
    error = _last_error(capsys)
    assert "'taken' is already installed (ascbench-taken)" in error and "pip uninstall" in error
    assert not target.exists()


# -- files ----------------------------------------------------------------------------------


def test_writes_a_package_with_the_entry_point(generated):
    assert _files(generated) == FILES
    pyproject = tomllib.loads((generated / "pyproject.toml").read_text())
    project = pyproject["project"]
    assert project["name"] == "ascbench-demo-net"
    assert project["dependencies"] == ["ascbench>=0.1"]
    assert project["entry-points"]["ascbench"] == {"demo_net": "ascbench_demo_net.plugin"}
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    plugin = (generated / "src/ascbench_demo_net/plugin.py").read_text()
    assert "def register_models():" in plugin and "def register_systems():" in plugin
    assert '"demo_net_cnn"' in plugin and 'name="demo_net"' in plugin
    assert "$" not in "".join(p.read_text() for p in generated.rglob("*") if p.is_file())


def test_generated_code_passes_ruff(generated):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(generated)],
        capture_output=True, text=True, cwd=generated,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_hooks_register_without_packaging(generated, monkeypatch):
    # the --plugin shortcut: import the hook module from the source tree (the compressed
    # system's compliance is checked by the plugin's own tests, in the end-to-end test)
    monkeypatch.syspath_prepend(str(generated / "src"))
    try:
        registry = load_registry(
            ["ascbench_demo_net.plugin"], entry_points=False, environment=False
        )
        registry.raise_on_conflicts()
        (info,) = [p for p in registry.plugins if p.name == "ascbench_demo_net.plugin"]
        assert info.ok, info.errors
        assert info.registered == {"model": ["demo_net_cnn"], "system": ["demo_net"]}
        system = registry.system("demo_net")
        shape = feature_shape(registry, system, registry.ruleset("dcase2022"))
        assert shape == (1, 40, 51)
        model = build_model(registry, system, shape, 10).eval()
        assert sum(p.numel() for p in model.parameters()) == 24_058  # as its docstring says
        with torch.no_grad():
            assert tuple(model(torch.randn(3, *shape)).shape) == (3, 10)
    finally:
        for module in [m for m in sys.modules if m.startswith("ascbench_demo_net")]:
            del sys.modules[module]


def test_an_existing_folder_with_files_is_never_touched(tmp_path, capsys):
    target = tmp_path / "ascbench-demo-net"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    assert main(["new-plugin", "demo-net", "--dir", str(tmp_path)]) == 2
    error = _last_error(capsys)
    assert str(target) in error and "not empty" in error
    assert _files(target) == {"mine.txt"} and (target / "mine.txt").read_text() == "keep me"


def test_an_empty_folder_is_used_and_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "ascbench-demo-net").mkdir()
    assert main(["new-plugin", "demo-net", "--dir", str(tmp_path)]) == 0
    assert _files(tmp_path / "ascbench-demo-net") == FILES
    capsys.readouterr()
    (tmp_path / "file").write_text("")
    assert main(["new-plugin", "other", "--dir", str(tmp_path / "file")]) == 2
    assert "not a directory" in _last_error(capsys)


# -- end to end: wheel -> fresh venv -> `ascbench plugins` and `ascbench run` ----------------


@pytest.fixture
def tiny_synth(tmp_path) -> Path:
    from tests.synthetic import tiny_tau2022

    root = tmp_path / "synth"
    return tiny_tau2022(root)


def _run(*command, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def _fresh_venv(root: Path) -> Path:
    """A venv that sees this interpreter's packages (ascbench, torch, pip) without copying
    or downloading anything; returns its python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
        check=True,
    )
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if sys.prefix != sys.base_prefix:
        # Running inside a venv (tox): --system-site-packages would only reach the base
        # interpreter, so layer this venv's site-packages (and their .pth files) on top.
        target = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        lines = [f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages()]
        (Path(target) / "_ascbench_parent.pth").write_text("".join(lines))
    return python


def test_generated_plugin_installs_from_a_wheel_and_runs(tmp_path, tiny_synth):
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools")
    env = {k: v for k, v in os.environ.items() if k not in {"ASCBENCH_PLUGINS", "PIP_USER"}}
    env.update(
        ASCBENCH_CACHE=str(tmp_path / "cache"), PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1",
    )  # fmt: skip
    assert main(["new-plugin", "e2e-demo", "--dir", str(tmp_path)]) == 0
    source = tmp_path / "ascbench-e2e-demo"

    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", tmp_path / "wheels", source, cwd=tmp_path, env=env,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheels").glob("ascbench_e2e_demo-0.1.0-*.whl")
    python = _fresh_venv(tmp_path / "venv")
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path, env=env)
    # installed into the venv only, not into the interpreter running this test
    assert importlib.util.find_spec("ascbench_e2e_demo") is None

    listing = _run(python, "-m", "ascbench", "plugins", "--json", cwd=tmp_path, env=env).stdout
    (info,) = [p for p in json.loads(listing)["plugins"] if p["name"] == "e2e_demo"]
    assert (info["origin"], info["distribution"], info["version"]) == (
        "entry point", "ascbench-e2e-demo", "0.1.0",
    )  # fmt: skip
    assert info["errors"] == []
    assert info["registered"] == {"model": ["e2e_demo_cnn"], "system": ["e2e_demo"]}

    results = tmp_path / "results"
    _run(
        python, "-m", "ascbench", "run", "--system", "e2e_demo", "--budget", "1",
        "--data", tiny_synth, "--results", results, "--cache", tmp_path / "features",
        "--no-progress", cwd=tmp_path, env=env,
    )  # fmt: skip
    from ascbench.leaderboard import ResultStore

    (entry,) = ResultStore(results).load_all()
    assert (entry.system.name, entry.system.plugin) == ("e2e_demo", "e2e_demo")
    assert entry.status in ("ok", "degenerate")  # finished; one epoch on tiny data may not teach
    assert entry.verify() and entry.provenance.budget.epochs == 1
    assert [s.name for s in entry.stages] == ["uncompressed", "int8_static"]
    assert (results / "leaderboard-dcase2022.md").exists()

    # the plugin's own tests pass against the installed wheel
    own = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=source, env=env)
    assert "3 passed" in own.stdout
