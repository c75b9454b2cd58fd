"""The plugin contract: discovery, isolation of broken plugins, conflicts."""

from __future__ import annotations

import pytest

from ascbench.errors import PluginError, UnknownNameError
from ascbench.plugins import load_registry

from .conftest import make_distribution

BUILTIN_RULESETS = ["dcase2021", "dcase2022", "dcase2023", "dcase2024", "dcase2025"]

GOOD = """
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef

def tiny(num_classes=10, input_shape=(1, 40, 51)):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(40 * 51, num_classes))

@hookimpl
def register_models():
    return [Model("{model}", tiny, "a tiny linear model")]

@hookimpl
def register_systems():
    return [System(name="{system}", title="tiny", report="none", challenge="dcase2022",
                   frontend=ComponentRef(name="logmel", params={{"n_mels": 40, "hop_length": 882}}),
                   model=ComponentRef(name="{model}"))]
"""


def test_builtin_registers_rulesets_and_frontend():
    registry = load_registry(entry_points=False, environment=False)
    assert registry.names("ruleset") == BUILTIN_RULESETS
    assert "logmel" in registry.names("frontend")
    assert registry.plugins[0].name == "ascbench" and registry.plugins[0].ok


def test_plugin_module_by_name(plugin_dir):
    mod = plugin_dir("tiny_plugin", GOOD.format(model="tiny", system="tiny_sys"))
    registry = load_registry([mod], entry_points=False, environment=False)
    info = registry.plugins[-1]
    assert info.origin == "--plugin" and info.ok
    assert info.registered == {"model": ["tiny"], "system": ["tiny_sys"]}
    assert registry.system("tiny_sys").plugin == "tiny_plugin"
    assert registry.get("model", "tiny").plugin == "tiny_plugin"


def test_plugin_module_from_environment(plugin_dir, monkeypatch):
    mod = plugin_dir("env_plugin", GOOD.format(model="envm", system="env_sys"))
    monkeypatch.setenv("ASCBENCH_PLUGINS", f"{mod}, ")
    registry = load_registry(entry_points=False)
    assert registry.plugins[-1].origin == "ASCBENCH_PLUGINS"
    assert "env_sys" in registry.names("system")


def test_entry_point_discovery(plugin_dir):
    mod = plugin_dir("ep_plugin", GOOD.format(model="epm", system="ep_sys"))
    make_distribution(plugin_dir.path, "ep-dist", "1.2.3", {"ep_name": mod})
    registry = load_registry(environment=False)
    (info,) = [p for p in registry.plugins if p.name == "ep_name"]
    assert (info.origin, info.distribution, info.version) == ("entry point", "ep-dist", "1.2.3")
    assert registry.system("ep_sys").plugin == "ep_name"


def test_plugin_option_for_an_installed_plugin_loads_it_once(plugin_dir):
    mod = plugin_dir("twice_plugin", GOOD.format(model="twm", system="tw_sys"))
    make_distribution(plugin_dir.path, "tw-dist", "1.0", {"tw_name": mod})
    registry = load_registry([mod], environment=False)
    assert [p.name for p in registry.plugins if p.module == mod] == ["tw_name"]
    assert all(p.ok for p in registry.plugins if p.module == mod)
    assert registry.system("tw_sys").plugin == "tw_name"


def test_plugin_module_in_the_current_directory(tmp_path, monkeypatch):
    """The console script does not put the working directory on sys.path; --plugin does."""
    import sys

    (tmp_path / "cwd_only_plugin.py").write_text(GOOD.format(model="cwdm", system="cwd_sys"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "cwd_only_plugin", raising=False)
    registry = load_registry(["cwd_only_plugin"], environment=False, entry_points=False)
    assert registry.system("cwd_sys").plugin == "cwd_only_plugin"
    sys.modules.pop("cwd_only_plugin", None)


def test_broken_import_is_reported_and_others_keep_working(plugin_dir):
    bad = plugin_dir("bad_import", "import not_a_module_anywhere\n")
    good = plugin_dir("ok_plugin", GOOD.format(model="okm", system="ok_sys"))
    make_distribution(plugin_dir.path, "bad-dist", "0.1", {"bad_ep": "also_not_there"})
    registry = load_registry([bad, good], environment=False)
    errors = {p.name: p.errors for p in registry.plugins}
    assert "ModuleNotFoundError" in errors["bad_import"][0]
    assert errors["bad_ep"] and "also_not_there" in errors["bad_ep"][0]
    assert errors["ok_plugin"] == []
    assert "ok_sys" in registry.names("system")


def test_hook_that_raises_is_isolated(plugin_dir):
    mod = plugin_dir(
        "raising",
        """
        from ascbench import hookimpl
        @hookimpl
        def register_models():
            raise RuntimeError("model zoo offline")
        """,
    )
    registry = load_registry([mod], entry_points=False, environment=False)
    error, whole = registry.plugins[-1].errors
    assert "register_models() raised RuntimeError: model zoo offline" in error
    assert whole == "nothing of this plugin was registered"
    assert registry.names("ruleset") == BUILTIN_RULESETS


def test_a_plugin_whose_systems_hook_raises_registers_none_of_its_models(plugin_dir):
    """All or nothing: a plugin listed as failed leaves no models behind (its systems, which
    would have used them, are missing too); the other plugins are untouched."""
    mod = plugin_dir(
        "half_broken",
        """
        import torch
        from ascbench import Model, hookimpl
        @hookimpl
        def register_models():
            return [Model("orphan_net", torch.nn.Linear, "would be left behind")]
        @hookimpl
        def register_systems():
            raise ValueError("bad recipe")
        """,
    )
    registry = load_registry([mod], entry_points=False, environment=False)
    info = registry.plugins[-1]
    assert info.errors[0].startswith("register_systems() raised ValueError: bad recipe")
    assert "orphan_net" not in registry.names("model")
    assert "logmel" in registry.names("frontend")  # the built-in plugin is whole


def test_wrong_return_types_and_unknown_hooks(plugin_dir):
    wrong = plugin_dir(
        "wrong_types",
        """
        from ascbench import hookimpl
        @hookimpl
        def register_models():
            return [{"name": "x"}]
        @hookimpl
        def register_frontends():
            return "logmel"
        """,
    )
    typo = plugin_dir(
        "typo_hook",
        """
        from ascbench import hookimpl
        @hookimpl
        def register_model():
            return []
        """,
    )
    registry = load_registry([wrong, typo], entry_points=False, environment=False)
    errors = {p.name: p.errors for p in registry.plugins}
    assert any("expected ascbench.ModelEntry" in e for e in errors["wrong_types"])
    assert any("must return a list" in e for e in errors["wrong_types"])
    # nothing raised, so no traceback: the error names where the hook is defined (decorator)
    assert any(e.startswith("register_models() (wrong_types.py:3) returned a dict")
               for e in errors["wrong_types"])  # fmt: skip
    assert any(e.startswith("register_frontends() (wrong_types.py:6) must return a list")
               for e in errors["wrong_types"])  # fmt: skip
    assert "register_model" in errors["typo_hook"][0]
    assert "register_models" in errors["typo_hook"][0]


def test_duplicate_names_are_conflicts_naming_both_plugins(plugin_dir):
    one = plugin_dir("dup_one", GOOD.format(model="same", system="sys_one"))
    two = plugin_dir("dup_two", GOOD.format(model="same", system="sys_two"))
    registry = load_registry([one, two], entry_points=False, environment=False)
    (conflict,) = registry.conflicts
    assert "model 'same'" in conflict and "dup_one" in conflict and "dup_two" in conflict
    with pytest.raises(PluginError, match="registered by both"):
        registry.raise_on_conflicts()


def test_unknown_names_suggest_close_matches():
    registry = load_registry(entry_points=False, environment=False)
    with pytest.raises(UnknownNameError, match="did you mean logmel"):
        registry.get("frontend", "logmell")


def test_entries_are_named_after_their_definition():
    import ascbench
    from ascbench.components import CompressorEntry, ModelEntry
    from ascbench.compressors import PruneL1

    def wide_cnn(num_classes, input_shape):
        """A wide CNN.

        More text."""

    entry = ModelEntry.of(wide_cnn)
    assert (entry.name, entry.description, entry.kind) == ("wide_cnn", "A wide CNN.", "model")
    assert ModelEntry.of(wide_cnn, "given").description == "given"
    pruning = CompressorEntry.of(PruneL1)
    assert pruning.name == "prune_l1" and pruning.description == PruneL1.description
    # the names of ascbench 0.1 are the same classes
    assert ascbench.Model is ascbench.ModelEntry and ascbench.Compressor is CompressorEntry


def test_a_plugin_module_loaded_by_path_is_versioned_by_its_source(plugin_dir):
    """No distribution versions a --plugin module: its entries record the hash of its source,
    which changes with the code (issue 17: plugin_version was '')."""
    source = "from ascbench import hookimpl\n@hookimpl\ndef register_models():\n    return []\n"
    mod = plugin_dir("by_path", source)
    first = load_registry([mod], entry_points=False, environment=False).plugins[-1]
    assert first.version.startswith("source-sha256:") and len(first.version) == 30
    import importlib
    import sys

    (plugin_dir.path / "by_path.py").write_text(source + "# changed\n")
    sys.modules.pop("by_path", None)
    importlib.invalidate_caches()
    second = load_registry([mod], entry_points=False, environment=False).plugins[-1]
    assert second.version.startswith("source-sha256:") and second.version != first.version
