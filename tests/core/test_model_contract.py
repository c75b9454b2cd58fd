"""A model must return logits of shape (batch, classes): refused at once, naming the model,
by profile, the pytest plugin and run (issue 17: a (1, 10, 256, 65) output used to profile as
'pass', a 7-class model failed training blaming the data)."""

from __future__ import annotations

from ascbench.cli import main
from ascbench.leaderboard import ResultStore
from tests.synthetic import tiny_tau2022

PLUGIN = """
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, TrainingRecipe

class Net(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3), out="logits", classes=None):
        super().__init__()
        self.out = out
        self.conv = torch.nn.Conv2d(input_shape[0], classes or num_classes, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        if self.out == "crash":  # a head that forgets to pool: torch's shape error
            return torch.nn.functional.linear(y.flatten(1), torch.zeros(10, 3))
        return y if self.out == "map" else y.mean(dim=(2, 3))

FRONTEND = ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024, "hop_length": 512})

def system(name, **params):
    return System(name=name, title=name, report="test", challenge="dcase2022",
                  frontend=FRONTEND, model=ComponentRef(name="net", params=params),
                  recipe=TrainingRecipe(epochs=2, batch_size=8))

@hookimpl
def register_models():
    return [Model("net", Net, "a conv net")]

@hookimpl
def register_systems():
    return [system("good"), system("feature_map", out="map"), system("seven", classes=7),
            system("crash", out="crash")]
"""


def test_profile_refuses_a_model_that_does_not_return_logits(plugin_dir, capsys):
    from ascbench.plugins import load_registry
    from ascbench.profiling import profile_system

    module = plugin_dir("contract_plugin", PLUGIN)
    registry = load_registry([module], entry_points=False, environment=False)
    rules = registry.ruleset("dcase2022")
    assert profile_system(registry, registry.system("good"), rules).status == "pass"
    bad = profile_system(registry, registry.system("feature_map"), rules)
    assert bad.status == "error"
    assert "model 'net' of system 'feature_map' returns shape (2, 10, 16, 87)" in bad.error
    assert "logits of shape (batch, 10)" in bad.error
    seven = profile_system(registry, registry.system("seven"), rules)
    assert seven.status == "error" and "returns shape (2, 7)" in seven.error


def test_profile_names_the_plugins_line_where_the_model_crashed(plugin_dir, capsys):
    from ascbench.plugins import load_registry
    from ascbench.profiling import profile_system

    module = plugin_dir("crash_plugin", PLUGIN)
    registry = load_registry([module], entry_points=False, environment=False)
    crash = profile_system(registry, registry.system("crash"), registry.ruleset("dcase2022"))
    line = 1 + PLUGIN.splitlines().index(
        "            return torch.nn.functional.linear(y.flatten(1), torch.zeros(10, 3))"
    )
    assert crash.status == "error"
    assert crash.error.startswith("RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    assert crash.error.endswith(f"(crash_plugin.py:{line})")  # not a line inside torch


def test_run_names_the_model_not_the_data(plugin_dir, tmp_path, capsys):
    module = plugin_dir("contract_run_plugin", PLUGIN)
    data = tiny_tau2022(tmp_path / "data")
    results = tmp_path / "results"
    code = main(["--plugin", module, "run", "--system", "seven", "--data", str(data),
                 "--results", str(results), "--cache", str(tmp_path / "cache"), "--budget", "1",
                 "--no-progress", "--jobs", "1"])  # fmt: skip
    assert code == 1
    (entry,) = ResultStore(results).load_all()
    assert entry.status == "failed"
    assert "returns shape (2, 7)" in entry.reason and "outside" not in entry.reason


def test_profile_draws_its_bar_only_on_a_terminal(plugin_dir, capsys):
    module = plugin_dir("contract_bar_plugin", PLUGIN)
    assert main(["--plugin", module, "profile", "--rules", "dcase2022", "--system", "good"]) == 0
    captured = capsys.readouterr()
    assert "good" in captured.out and "profiling" not in captured.err  # redirected: no bar


def test_a_grn_layer_is_called_and_its_uncounted_norm_is_named():
    """A GRN whose parameters are used only in functional ops was reported as 'never called in
    the forward pass' once torch.fx inlined it; now it is counted (its gamma and beta are
    parameters), never called 'never called', and the op the official counter gives no MACs
    (the L2 norm) is named in a note."""
    from ascbench.plugins import load_registry
    from ascbench.profiling import profile_system

    registry = load_registry(["tests.core.grn_plugin"], entry_points=False, environment=False)
    ruleset = registry.ruleset("dcase2022")
    profile = profile_system(registry, registry.get("system", "grn_sys"), ruleset)
    assert profile.status == "pass", profile.error
    flags = profile.complexity.flags
    assert not any("never called" in f for f in flags), flags
    assert any("counted as 0" in f and "linalg_vector_norm" in f for f in flags), flags
    assert profile.complexity.parameters == 362  # conv 160 (BN folded in), GRN 32, head 170
