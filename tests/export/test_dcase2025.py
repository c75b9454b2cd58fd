"""`ascbench export dcase2025`: a finished run as the organisers' inference package, installed
into a fresh virtual environment, predicts what the run's own evaluation predicted."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from ascbench.cli import main
from ascbench.export import inference
from ascbench.export.dcase2025 import ExportError, export_package
from ascbench.plugins import load_registry
from tests.synthetic import tiny_tau2022

PLUGIN = """
import torch
from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import ComponentRef, DeviceSpecific, TrainingRecipe

class TinyNet(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3)):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape[0], 8, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))

def tiny_net(num_classes=10, input_shape=(1, 16, 3)):
    return TinyNet(num_classes, input_shape)

FRONTEND = ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024, "hop_length": 512})

def system(name, compressors, **fields):
    return System(name=name, title=name, report="test", challenge="dcase2025",
                  frontend=FRONTEND, model=ComponentRef(name="tiny_net"),
                  recipe=TrainingRecipe(epochs=3, batch_size=16, lr=3e-3),
                  compressors=[ComponentRef(name=c) for c in compressors], **fields)

@hookimpl
def register_models():
    return [ModelEntry.of(tiny_net)]

@hookimpl
def register_systems():
    return [
        system("tiny_fp16", ["fp16"]),
        system("tiny_int8", ["int8_static"]),
        system("tiny_devices", ["fp16"],
               device_specific=DeviceSpecific(devices=["a", "zz"], epochs=2, lr=1e-2)),
    ]
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_tau2022(tmp_path_factory.mktemp("data") / "synth")


@pytest.fixture
def finished_run(plugin_dir, data, tmp_path):
    module = plugin_dir("export_tiny_plugin", PLUGIN)
    results = tmp_path / "results"
    code = main(
        ["--plugin", module, "run", "--rules", "dcase2025", "--data", str(data),
         "--results", str(results), "--budget", "2", "--no-progress", "--jobs", "1",
         "--cache", str(tmp_path / "cache"), "--system", "tiny_fp16", "--system", "tiny_int8",
         "--system", "tiny_devices"]
    )  # fmt: skip
    assert code == 0
    registry = load_registry([module], entry_points=False, environment=False)
    return module, results, registry, plugin_dir.path


def _predictions(results, system):
    path = results / "dcase2025" / system / "seed0.predictions.csv"
    rows = list(csv.DictReader(path.open(), delimiter="\t"))
    return rows, [r["filename"] for r in rows]


def _devices(files):
    return [f.rsplit("-", 1)[1].removesuffix(".wav") for f in files]


def test_the_package_installs_in_a_fresh_venv_and_predicts_what_the_run_scored(
    finished_run, data, tmp_path
):
    module, results, registry, plugin_path = finished_run
    out = tmp_path / "package"
    done = export_package(results, "dcase2025", "tiny_fp16", 0, "Tiny_Lab_task1", 1, out, registry)
    assert done.module == "Tiny_Lab_task1.Tiny_Lab_task1_1"
    complexity = json.loads(
        (out / "Tiny_Lab_task1/resources/Tiny_Lab_task1_1/complexity.json").read_text()
    )
    assert set(complexity["per_device"]) == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}
    # conv 72 + BN 16 + fc 90 parameters in fp16; the organisers' "Params" are bytes
    assert complexity["max_Params"] == (72 + 16 + 90) * 2

    venv = tmp_path / "venv"
    # the system's site-packages give torch and ascbench; nothing of the package is there
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True)  # fmt: skip
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", str(out)], check=True, capture_output=True)  # fmt: skip
    rows, files = _predictions(results, "tiny_fp16")
    script = textwrap.dedent(f"""
        import json, sys
        import torch
        import Tiny_Lab_task1.Tiny_Lab_task1_1 as api
        files = {[str(data / f) for f in files]!r}
        logits, order = api.predict(files, {_devices(files)!r})
        model = api.load_model()
        sub = api.get_model_for_device(model, "unknown")
        shapes = [tuple(x.shape) for x in api.load_inputs(files[:2], ["a", "b"], model)]
        probs = torch.softmax(torch.stack(logits).double(), 1).tolist()
        json.dump({{"probs": probs, "order": order, "module": api.__file__,
                   "shapes": shapes, "sub": type(sub).__name__}}, sys.stdout)
    """)
    env = {**os.environ, "ASCBENCH_PLUGINS": module, "PYTHONPATH": str(plugin_path)}
    done = subprocess.run([str(python), "-c", script], env=env, capture_output=True, text=True,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert str(venv) in got["module"]  # imported from the venv, not from the source folder
    order = got["order"]
    assert order[:3] == ["airport", "bus", "metro"]
    expected = np.array([[float(r[c]) for c in order] for r in rows])
    # fp16 model: the run's float16 feature cache and the package's float32 features round to
    # the same fp16 input; what differs is fp16 arithmetic in batches of another size
    # (measured: at most 5.5e-6)
    probs = np.array(got["probs"])
    assert np.abs(probs - expected).max() < 1e-4
    assert (probs.argmax(1) == expected.argmax(1)).all()
    assert len(got["probs"]) == len(rows) and got["shapes"][0][0] == 1


def test_an_int8_system_is_rebuilt_with_its_quantized_state(finished_run, data, tmp_path):
    _, results, registry, _ = finished_run
    out = tmp_path / "package"
    export_package(results, "dcase2025", "tiny_int8", 0, "Tiny_Lab_task1", 2, out, registry)
    loaded = inference.load_model(
        out / "Tiny_Lab_task1/resources/Tiny_Lab_task1_2", registry=registry
    )
    rows, files = _predictions(results, "tiny_int8")
    logits, order = inference.predict([data / f for f in files], _devices(files), loaded)
    probs = torch.softmax(torch.stack(logits).double(), 1).numpy()
    expected = np.array([[float(r[c]) for c in order] for r in rows])
    # int8: float32 vs float16-cached features can quantize a value one step apart
    assert np.abs(probs - expected).max() < 0.02
    assert (probs.argmax(1) == expected.argmax(1)).mean() >= 0.9


def test_refusals_name_the_problem(finished_run, tmp_path):
    _, results, registry, _ = finished_run
    out = tmp_path / "package"
    with pytest.raises(ExportError, match="no entry for system 'tiny_fp16', seed 3"):
        export_package(results, "dcase2025", "tiny_fp16", 3, "Tiny_Lab_task1", 1, out, registry)
    with pytest.raises(ExportError, match="not a Python package name"):
        export_package(results, "dcase2025", "tiny_fp16", 0, "tiny-lab", 1, out, registry)
    model = results / "dcase2025" / "tiny_fp16" / "seed0.model.pt"
    model.write_bytes(model.read_bytes() + b"x")
    with pytest.raises(ExportError, match="does not match the sha256 its entry recorded"):
        export_package(results, "dcase2025", "tiny_fp16", 0, "Tiny_Lab_task1", 1, out, registry)


def test_the_export_command(finished_run, tmp_path, capsys):
    module, results, _, _ = finished_run
    code = main(["--plugin", module, "export", "dcase2025", "--system", "tiny_fp16",
                 "--results", str(results), "--label", "Tiny_Lab_task1",
                 "--out", str(tmp_path / "pkg")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "module Tiny_Lab_task1.Tiny_Lab_task1_1" in out and "parameter bytes" in out
    assert (tmp_path / "pkg" / "pyproject.toml").is_file()


def test_a_device_specific_system_counts_and_exports_each_device_model(
    finished_run, data, tmp_path
):
    from ascbench.leaderboard import ResultStore

    _, results, registry, _ = finished_run
    entry = ResultStore(results).get("tiny_devices", "dcase2025", 0)
    # device 'zz' has no training clips: it gets no model of its own (dcase2025 trains on the
    # 25 % split; device a records every segment, so it is in every split)
    assert set(entry.device_models) == {"general", "a"}
    assert all(c.bytes == (72 + 16 + 90) * 2 for c in entry.device_models.values())
    assert entry.complexity.bytes == (72 + 16 + 90) * 2
    assert any("each counted on its own" in f for f in entry.complexity.flags)

    out = tmp_path / "package"
    export_package(results, "dcase2025", "tiny_devices", 0, "Tiny_Lab_task1", 3, out, registry)
    loaded = inference.load_model(
        out / "Tiny_Lab_task1/resources/Tiny_Lab_task1_3", registry=registry
    )
    assert set(loaded.device_models) == {"a"}
    assert loaded.model_for("unknown") is loaded.general
    # the fine-tuned device models differ from the general one
    x = torch.randn(2, *loaded.input_shape)
    assert not torch.equal(loaded.model_for("a")(x), loaded.general(x))
    rows, files = _predictions(results, "tiny_devices")
    logits, order = inference.predict([data / f for f in files], _devices(files), loaded)
    probs = torch.softmax(torch.stack(logits).double(), 1).numpy()
    expected = np.array([[float(r[c]) for c in order] for r in rows])
    assert np.abs(probs - expected).max() < 1e-4  # each clip went to its device's model
