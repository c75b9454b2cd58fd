"""``ascbench profile`` keeps each finished profile, keyed by what determines it."""

from __future__ import annotations

import shutil
import sys

import pytest

from ascbench.cli import main
from ascbench.plugins import load_registry
from ascbench.profile_cache import ProfileCache, code_digest

PLUGIN = "tests.core.grn_plugin"


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ASCBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "profiles"


def _profile(capsys, *extra: str) -> str:
    assert main(["--plugin", PLUGIN, "profile", "--system", "grn_sys", *extra]) == 0
    return capsys.readouterr().out


def test_a_second_profile_reads_the_cache_and_prints_the_same(cache_env, capsys):
    first = _profile(capsys)
    assert "from the profile cache" not in first
    assert len(list(cache_env.glob("grn_sys-*.json"))) == 1
    second = _profile(capsys)
    assert "1 of 1 from the profile cache" in second
    assert second.replace(second.splitlines()[3] + "\n", "") == first
    again = _profile(capsys, "--no-cache")
    assert again == first


def test_a_damaged_cache_file_is_measured_again(cache_env, capsys):
    first = _profile(capsys)
    (stored,) = cache_env.glob("grn_sys-*.json")
    stored.write_text("{not json")
    assert _profile(capsys) == first  # measured, not read
    assert "from the profile cache" in _profile(capsys)  # and stored again


def test_the_key_changes_with_the_system_the_rule_set_and_the_plugin_source(tmp_path):
    plugin_dir = tmp_path / "src"
    plugin_dir.mkdir()
    source = sys.modules.get(PLUGIN) or __import__(PLUGIN, fromlist=["_"])
    shutil.copy(source.__file__, plugin_dir / "grn_copy.py")
    sys.path.insert(0, str(plugin_dir))
    try:
        registry = load_registry(["grn_copy"], entry_points=False, environment=False)
        system = registry.get("system", "grn_sys")
        rules = registry.ruleset("dcase2022")
        cache = ProfileCache(tmp_path / "profiles", registry, rules)
        key = cache.key(system)
        assert key == ProfileCache(tmp_path / "profiles", registry, rules).key(system)
        other = system.model_copy(update={"compressors": []})
        assert cache.key(other) != key
        assert ProfileCache(tmp_path, registry, registry.ruleset("dcase2021")).key(system) != key
        before = code_digest(registry)
        with open(plugin_dir / "grn_copy.py", "a") as f:
            f.write("\n# the author edits the model\n")
        assert code_digest(registry) != before
        assert ProfileCache(tmp_path / "profiles", registry, rules).key(system) != key
    finally:
        sys.path.remove(str(plugin_dir))
        sys.modules.pop("grn_copy", None)


def test_the_key_changes_with_the_torch_and_fvcore_versions(monkeypatch):
    from importlib import metadata

    registry = load_registry([PLUGIN], entry_points=False, environment=False)
    before = code_digest(registry)
    real = metadata.version
    for library in ("torch", "fvcore"):
        monkeypatch.setattr(
            metadata, "version", lambda n, lib=library: "0.0-other" if n == lib else real(n)
        )
        assert code_digest(registry) not in (None, before), library
    monkeypatch.setattr(metadata, "version", real)
    assert code_digest(registry) == before
