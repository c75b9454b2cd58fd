from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on sys.path where tests write plugin modules (and fake distributions)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("ASCBENCH_PLUGINS", raising=False)
    created: list[str] = []

    def write(module: str, source: str) -> str:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        created.append(module)
        importlib.invalidate_caches()
        return module

    write.path = tmp_path
    yield write
    for module in created:
        sys.modules.pop(module, None)


def make_distribution(root: Path, name: str, version: str, entry_points: dict[str, str]) -> None:
    """Install a minimal distribution (metadata only) into ``root``, as pip would."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ascbench]\n{lines}")
    importlib.invalidate_caches()
