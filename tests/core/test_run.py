"""`ascbench run` end to end on a tiny synthetic dataset and tiny plugin systems."""

from __future__ import annotations

import json
import os

import pytest

from ascbench.cli import main
from ascbench.jobs.plan import Job, RequestedBudget, RunError, parse_budget, plan
from ascbench.leaderboard import ResultStore
from ascbench.leaderboard.entry import SCHEMA_VERSION
from tests.synthetic import tiny_tau2022

TINY = """
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, Distillation, TrainingRecipe

class Tiny(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3), fail=False, weights=None):
        super().__init__()
        self.fail = fail
        c, f, t = input_shape
        self.conv = torch.nn.Conv2d(c, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, num_classes)
        if weights:
            self.load_state_dict(torch.load(weights, weights_only=True))

    def forward(self, x):
        if self.fail:
            raise RuntimeError("this model always fails")
        y = torch.relu(self.bn(self.conv(x)))
        return self.fc(y.mean(dim=(2, 3)))

FRONTEND = ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024, "hop_length": 512})

def system(name, **kw):
    return System(name=name, title=name, report="test", challenge="dcase2022",
                  frontend=FRONTEND, model=ComponentRef(name="tiny", params=kw.pop("params", {})),
                  recipe=TrainingRecipe(epochs=50, batch_size=16, lr=3e-3, **kw.pop("recipe", {})),
                  **kw)

@hookimpl
def register_models():
    return [Model("tiny", Tiny, "tiny conv net")]

@hookimpl
def register_systems():
    return [
        system("tiny_ok", compressors=[ComponentRef(name="fold_batchnorm")]),
        system("tiny_released", params={"weights": None}),
        system("tiny_broken", params={"fail": True}),
        system("tiny_student",
               recipe={"distillation": Distillation(teacher="tiny_ok", temperature=2.0)}),
    ]
"""


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "synth"
    return tiny_tau2022(root)


@pytest.fixture
def tiny_plugin(plugin_dir):
    return plugin_dir("tiny_run_plugin", TINY)


def _run(tiny_plugin, tiny_data, results, *extra):
    return main(
        ["--plugin", tiny_plugin, "run", "--data", str(tiny_data), "--results", str(results),
         "--budget", "2", "--no-progress", "--cache", str(results / "cache"), "--jobs", "1",
         *extra]
    )  # fmt: skip


def test_budget_parsing():
    assert parse_budget(None) == RequestedBudget()
    assert parse_budget("5") == RequestedBudget(epochs=5)
    assert parse_budget("90s").minutes == pytest.approx(1.5)
    assert parse_budget("5,2m") == RequestedBudget(epochs=5, minutes=2.0)
    assert parse_budget(None, full=True) == RequestedBudget(full=True)
    assert RequestedBudget().for_recipe(200) == (10, None)
    assert RequestedBudget(full=True).for_recipe(200) == (200, None)
    assert RequestedBudget(minutes=2.0).for_recipe(200) == (200, 2.0)
    for bad in ("five", "0", "2.5", "3x"):
        with pytest.raises(RunError, match="--budget"):
            parse_budget(bad)
    with pytest.raises(RunError, match="--full"):
        parse_budget("5", full=True)


def test_teachers_run_before_their_students(tiny_plugin):
    from ascbench.plugins import load_registry

    registry = load_registry([tiny_plugin], entry_points=False, environment=False)
    student = registry.system("tiny_student")
    # the student alone brings its teacher along, first
    assert plan([student], [0, 1], registry) == [
        Job("tiny_ok", 0), Job("tiny_student", 0), Job("tiny_ok", 1), Job("tiny_student", 1),
    ]  # fmt: skip


def test_run_writes_entries_failures_and_resumes(tiny_plugin, tiny_data, tmp_path, capsys):
    results = tmp_path / "results"
    systems = ["--system", "tiny_ok", "--system", "tiny_broken", "--system", "tiny_student"]
    code = _run(tiny_plugin, tiny_data, results, *systems)
    assert code == 1  # one system failed; the others were still run and written
    out = capsys.readouterr()
    store = ResultStore(results)
    entries = {e.system.name: e for e in store.load_all()}
    assert set(entries) == {"tiny_ok", "tiny_broken", "tiny_student"}

    broken = entries["tiny_broken"]
    assert broken.status == "failed" and "this model always fails" in broken.reason
    assert (results / "dcase2022" / "tiny_broken" / "seed0.error.txt").exists()
    # one line: the exception, the line that raised it, where the whole traceback went
    assert "\n" not in broken.reason and broken.reason.endswith(
        f"; traceback in {results / 'dcase2022' / 'tiny_broken' / 'seed0.error.txt'})"
    )

    ok = entries["tiny_ok"]
    # finished and compliant: 'ok', or 'degenerate' when two epochs on a few dozen clips
    # taught it nothing (then with its reasons, judged from the recorded predictions)
    assert ok.status in ("ok", "degenerate") and ok.compliance.status == "pass" and ok.verify()
    stats = ok.metrics.predictions
    assert stats.clips == 54 and sum(stats.predicted.values()) == 54
    assert bool(ok.degenerate) == (ok.status == "degenerate")
    degenerate = sum(bool(e.degenerate) for e in entries.values())
    assert (f"{degenerate} degenerate (learned nothing)" in out.err) == (degenerate > 0)
    assert 0 <= ok.metrics.accuracy <= 100 and ok.metrics.log_loss > 0
    assert set(ok.metrics.device_groups) == {"real", "seen", "unseen"}
    assert [s.name for s in ok.stages] == ["uncompressed", "fold_batchnorm"]
    # folding removes the 16 BN parameters and adds none (the conv has a bias already)
    assert ok.stages[0].complexity.parameters - ok.stages[1].complexity.parameters == 16
    assert ok.complexity.parameters == ok.stages[1].complexity.parameters
    assert ok.provenance.dataset.clips == {"train": 3 * 2 * (4 + 5 * 1), "test": 3 * 9 * 2}
    assert ok.provenance.budget.epochs == 2
    assert ok.schema_version == SCHEMA_VERSION and ok.system.deviations == []
    assert ok.provenance.torch_threads == len(os.sched_getaffinity(0))  # --jobs 1: every core
    assert (results / "dcase2022" / "tiny_ok" / "seed0.teacher.pt").exists()
    assert entries["tiny_student"].status in ("ok", "degenerate")  # finished

    # predictions in the DCASE output format, one row per test clip
    lines = (results / "dcase2022" / "tiny_ok" / "seed0.predictions.csv").read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["filename", "scene_label", "airport"]
    assert len(lines) == 1 + 54
    assert (results / "leaderboard-dcase2022.md").exists()
    assert "tiny_ok" in out.out

    # --resume skips every finished entry and keeps the files as they were
    before = (results / "dcase2022" / "tiny_ok" / "seed0.json").read_bytes()
    code = _run(tiny_plugin, tiny_data, results, "--resume", "--system", "tiny_ok")
    assert code == 0
    assert "finished earlier, skipped" in capsys.readouterr().err
    assert (results / "dcase2022" / "tiny_ok" / "seed0.json").read_bytes() == before


def test_same_seed_gives_identical_numbers(tiny_plugin, tiny_data, tmp_path):
    metrics = []
    for name in ("a", "b"):
        results = tmp_path / name
        assert _run(tiny_plugin, tiny_data, results, "--system", "tiny_ok", "--seed", "3") == 0
        entry = json.loads((results / "dcase2022" / "tiny_ok" / "seed3.json").read_text())
        metrics.append(entry["metrics"])
    assert metrics[0] == metrics[1]


def test_interrupted_run_keeps_finished_entries(tiny_plugin, tiny_data, tmp_path, monkeypatch,
                                                capsys):  # fmt: skip
    import ascbench.jobs.job as job_module

    real = job_module.run_job
    calls = []

    def interrupt_second(job, *args, **kwargs):
        calls.append(job.system)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job, *args, **kwargs)

    monkeypatch.setattr(job_module, "run_job", interrupt_second)
    results = tmp_path / "results"
    code = _run(tiny_plugin, tiny_data, results, "--system", "tiny_ok", "--system", "tiny_broken")
    assert code == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        f"ascbench: interrupted; finished entries are kept in {results} (1 from this "
        "run); run the same command with --resume to do the rest"
    )
    assert [e.system.name for e in ResultStore(results).load_all()] == [calls[0]]


def test_clip_length_must_match_the_rule_set(tiny_plugin, tiny_data, tmp_path, capsys):
    code = main(
        ["--plugin", tiny_plugin, "run", "--rules", "dcase2021", "--data", str(tiny_data),
         "--results", str(tmp_path), "--system", "tiny_ok", "--no-progress"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("ascbench: error:") and "10" in err


def test_time_budget_becomes_epochs_that_fit(tiny_plugin, tiny_data, tmp_path):
    results = tmp_path / "results"
    code = main(
        ["--plugin", tiny_plugin, "run", "--data", str(tiny_data), "--results", str(results),
         "--budget", "2s", "--no-progress", "--system", "tiny_ok"]
    )  # fmt: skip
    assert code == 0
    (entry,) = ResultStore(results).load_all()
    assert 1 <= entry.provenance.budget.epochs <= 50
    assert any("time budget" in f and "epochs scheduled" in f for f in entry.complexity.flags)


def test_weights_are_evaluated_without_training(tiny_plugin, tiny_data, tmp_path, capsys):
    import torch

    from ascbench.plugins import load_registry

    registry = load_registry([tiny_plugin], entry_points=False, environment=False)
    model = registry.get("model", "tiny").build(num_classes=10, input_shape=(1, 16, 87))
    path = tmp_path / "released.pt"
    torch.save(model.state_dict(), path)
    results = tmp_path / "results"
    args = ["--plugin", tiny_plugin, "run", "--data", str(tiny_data), "--results", str(results),
            "--no-progress", "--weights", str(path)]  # fmt: skip
    assert main([*args, "--system", "tiny_released"]) == 0
    (entry,) = ResultStore(results).load_all()
    assert entry.provenance.budget.epochs == 0
    assert any("not trained: weights loaded" in f for f in entry.complexity.flags)
    # the same weights give the same predictions as the saved model: nothing was trained
    assert main([*args, "--system", "tiny_ok"]) == 2
    assert "takes no --weights" in capsys.readouterr().err
    assert main([*args[:-1], str(tmp_path / "missing.pt"), "--system", "tiny_released"]) == 2
    assert "weights file or folder not found" in capsys.readouterr().err


def test_systems_differing_only_in_compression_train_once(tiny_plugin, tiny_data, tmp_path):
    results = tmp_path / "results"
    assert _run(tiny_plugin, tiny_data, results, "--system", "tiny_ok") == 0
    trained = list((results / "trained").glob("*.pt"))
    assert len(trained) == 1
    # a second job with the same training identity reuses the weights (here: a re-run)
    (results / "dcase2022" / "tiny_ok" / "seed0.json").unlink()
    assert _run(tiny_plugin, tiny_data, results, "--system", "tiny_ok") == 0
    (entry,) = ResultStore(results).load_all()
    assert any("trained weights reused" in f for f in entry.complexity.flags)
    assert entry.provenance.budget.epochs == 2


def test_default_budget_gives_every_system_the_same_training_compute():
    from ascbench.jobs.plan import default_epochs

    assert default_epochs(29_271_638, 1.0, 200) == 10  # DCASE 2022 baseline
    assert default_epochs(287_303_638, 10.0, 200) == 10  # DCASE 2021 baseline, 10-s clips
    assert default_epochs(31_802_000, 1.0, 200) == 9  # just over the limit: 9 epochs
    assert default_epochs(46_307_210, 1.0, 200) == 6  # SP4ASC on 1-s clips
    assert default_epochs(267_157_514, 1.0, 200) == 1  # never fewer than one
    assert default_epochs(7_960_000, 1.0, 2) == 2  # never more than the recipe
    assert default_epochs(0, 1.0, 200) == 10


def test_validation_rows_hold_out_whole_locations_per_scene():
    from types import SimpleNamespace

    from ascbench.jobs.stages import VALID_FRACTION, validation_rows

    clips = [
        SimpleNamespace(scene_label=scene, identifier=f"{scene}-loc{loc}", filename=f"{i}.wav")
        for i, (scene, loc) in enumerate(
            (scene, loc) for scene in ("park", "bus") for loc in range(6) for _ in range(5)
        )
    ]
    clips.append(SimpleNamespace(scene_label="tram", identifier="tram-only", filename="t.wav"))
    train, valid = validation_rows(clips)
    assert sorted(train + valid) == list(range(len(clips))) and not set(train) & set(valid)
    held = {clips[r].identifier for r in valid}
    # whole locations, round(0.15 * 6) = 1 per scene with six; a one-location scene keeps it
    assert VALID_FRACTION == 0.15 and len(held) == 2
    assert {h.split("-")[0] for h in held} == {"park", "bus"}
    assert all(clips[r].identifier in held for r in valid)
    assert all(clips[r].identifier not in held for r in train)
    assert validation_rows(clips) == (train, valid)  # the same data, the same split


def test_default_run_leaves_out_systems_over_the_parameter_or_mac_limit(
    tiny_plugin, tiny_data, tmp_path, capsys
):
    import re
    from pathlib import Path

    import ascbench

    # a rule set with a 10-parameter limit: no system fits, so the default selection is empty
    rules = tmp_path / "tight.toml"
    body = (Path(ascbench.__file__).parent / "rulesets" / "dcase2022.toml").read_text()
    body = re.sub(r"(?m)^name = .*$", 'name = "tight"', body, count=1)
    body = re.sub(r"(?m)^maximum = 128000$", "maximum = 10", body, count=1)
    rules.write_text(body)
    code = main(
        ["--plugin", tiny_plugin, "run", "--rules", str(rules), "--data", str(tiny_data),
         "--results", str(tmp_path / "r"), "--budget", "1", "--no-progress", "--jobs", "1"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2, err
    assert "no installed system can fit tight" in err and "--all" in err


def test_over_fixed_limits_names_the_limit(tiny_plugin):
    from ascbench.jobs.eligibility import over_fixed_limits
    from ascbench.plugins import load_registry

    registry = load_registry(extra_modules=[tiny_plugin])
    system = registry.system("tiny_ok")
    assert over_fixed_limits(registry, system, registry.ruleset("dcase2022")) == []


def test_a_device_specific_system_is_left_out_where_the_device_is_unknown(tiny_plugin):
    """DCASE 2021-2024 give no device at inference: a system that picks a model per device
    cannot comply there, so the default run leaves it out (under dcase2025 it may run)."""
    from ascbench.jobs.eligibility import over_fixed_limits
    from ascbench.plugins import load_registry
    from ascbench.systems import DeviceSpecific

    registry = load_registry(extra_modules=[tiny_plugin])
    system = registry.system("tiny_ok").model_copy(
        update={"device_specific": DeviceSpecific(devices=["a"], epochs=1, lr=1e-3)}
    )
    assert over_fixed_limits(registry, system, registry.ruleset("dcase2022")) == [
        "one model per device, but dcase2022 does not give the device at inference"
    ]
    assert over_fixed_limits(registry, system, registry.ruleset("dcase2025")) == []


def test_a_system_whose_compressors_cannot_work_in_their_order_fails_before_training(
    plugin_dir, tiny_data, tmp_path, capsys
):
    misordered = TINY.replace(
        '        system("tiny_ok", compressors=[ComponentRef(name="fold_batchnorm")]),\n',
        '        system("tiny_misordered", compressors=[ComponentRef(name="int8_static"),\n'
        '               ComponentRef(name="prune_l1", params={"amount": 0.5})]),\n',
    )
    plugin = plugin_dir("misordered_plugin", misordered)
    results = tmp_path / "results"
    assert _run(plugin, tiny_data, results, "--system", "tiny_misordered") == 1
    out = capsys.readouterr()
    (entry,) = ResultStore(results).load_all()
    assert entry.status == "failed"
    assert entry.reason.startswith(
        "compressors int8_static -> prune_l1: prune_l1 cannot follow "
        "int8_static: prune_l1 needs a float32 or float16 model, not int8; put prune_l1 before "
        "int8_static"
    ), entry.reason
    assert "training" not in out.out + out.err  # refused when the system was built
