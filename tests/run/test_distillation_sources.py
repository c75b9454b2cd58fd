"""Distillation from an ensemble of teacher systems and from a stored logits file (issue 15)."""

from __future__ import annotations

import csv

import pytest
import torch
from pydantic import ValidationError

from ascbench.cli import main
from ascbench.compressors import TeacherOutputs
from ascbench.compressors.distillation import DistillationError
from ascbench.jobs.plan import plan
from ascbench.leaderboard import ResultStore
from ascbench.plugins import load_registry
from ascbench.scenes import SCENES
from ascbench.systems import Distillation
from tests.synthetic import tiny_tau2022

PLUGIN = """
import os
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, Distillation, TrainingRecipe

class Tiny(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3)):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape[0], 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))

def system(name, lr=3e-3, distillation=None):
    return System(name=name, title=name, report="test", challenge="dcase2022",
                  frontend=ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024,
                                                               "hop_length": 512}),
                  model=ComponentRef(name="kd_tiny"),
                  recipe=TrainingRecipe(epochs=50, batch_size=16, lr=lr,
                                        distillation=distillation))

@hookimpl
def register_models():
    return [Model("kd_tiny", Tiny, "tiny conv net")]

@hookimpl
def register_systems():
    return [
        system("kd_teacher_a"),
        system("kd_teacher_b", lr=1e-2),
        system("kd_ensemble", distillation=Distillation(teachers=["kd_teacher_a", "kd_teacher_b"],
                                                         weight=0.9)),
        system("kd_from_file", distillation=Distillation(
            logits_file=os.environ.get("KD_LOGITS", "missing.csv"), temperature=2, weight=0.98)),
    ]
"""


def test_a_distillation_has_exactly_one_source():
    assert Distillation(teachers=["a", "b"]).teacher_systems == ["a", "b"]
    assert Distillation(logits_file="x.csv").teacher_systems == []
    with pytest.raises(ValidationError, match="exactly one of teacher, teachers and logits_file"):
        Distillation(teacher="a", logits_file="x.csv")
    with pytest.raises(ValidationError, match="got none"):
        Distillation()


def test_a_logits_file_round_trips_and_bad_rows_name_file_and_line(tmp_path):
    outputs = TeacherOutputs(torch.randn(3, 10), ["a.wav", "b.wav", "c.wav"], fingerprint="")
    path = outputs.to_csv(tmp_path / "logits.csv")
    back = TeacherOutputs.from_csv(path)
    assert back.filenames == outputs.filenames
    assert torch.allclose(back.logits, outputs.logits)
    assert torch.equal(back.align(["c.wav", "a.wav"]), outputs.logits[[2, 0]])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], lines[2].replace(",", ",nan", 1)]) + "\n")
    with pytest.raises(DistillationError, match=r"logits\.csv:3: a logit is missing or not"):
        TeacherOutputs.from_csv(path)
    path.write_text("filename,airport\nx.wav,1.0\n")
    with pytest.raises(DistillationError, match=r"logits\.csv:1: the header lacks bus"):
        TeacherOutputs.from_csv(path)
    with pytest.raises(DistillationError, match="no such logits file"):
        TeacherOutputs.from_csv(tmp_path / "none.csv")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_tau2022(tmp_path_factory.mktemp("data") / "synth")


def _run(module, data, tmp_path, system):
    return main(
        ["--plugin", module, "run", "--rules", "dcase2022", "--data", str(data), "--results",
         str(tmp_path / "results"), "--budget", "2", "--no-progress", "--cache",
         str(tmp_path / "cache"), "--jobs", "1", "--system", system]
    )  # fmt: skip


def test_an_ensemble_student_brings_its_teachers_along(plugin_dir, data, tmp_path, capsys):
    module = plugin_dir("kd_sources_plugin", PLUGIN)
    registry = load_registry([module], entry_points=False, environment=False)
    jobs = plan([registry.system("kd_ensemble")], [0], registry)
    assert [j.system for j in jobs][-1] == "kd_ensemble" and len(jobs) == 3
    assert _run(module, data, tmp_path, "kd_ensemble") == 0, capsys.readouterr().out
    store = ResultStore(tmp_path / "results")
    names = {e.system.name for e in store.load_all()}
    assert names == {"kd_ensemble", "kd_teacher_a", "kd_teacher_b"}


def test_a_student_learns_from_a_logits_file(plugin_dir, data, tmp_path, monkeypatch, capsys):
    with open(data / "evaluation_setup" / "fold1_train.csv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    # a confident "teacher" that knows every training label
    logits = torch.stack([5.0 * torch.eye(10)[SCENES.index(r["scene_label"])] for r in rows])
    path = TeacherOutputs(logits, [r["filename"] for r in rows], fingerprint="").to_csv(
        tmp_path / "teacher.csv"
    )
    monkeypatch.setenv("KD_LOGITS", str(path))
    module = plugin_dir("kd_file_plugin", PLUGIN.replace("kd_", "kf_"))
    assert _run(module, data, tmp_path, "kf_from_file") == 0, capsys.readouterr().out
    (entry,) = ResultStore(tmp_path / "results").load_all()
    assert entry.system.name == "kf_from_file" and entry.status != "failed"
    # a training file without a row is refused, naming the logits file
    path.write_text("\n".join(path.read_text().splitlines()[:-1]) + "\n")
    assert _run(module, data, tmp_path / "again", "kf_from_file") == 1
    assert "teacher.csv: 1 of" in capsys.readouterr().err
