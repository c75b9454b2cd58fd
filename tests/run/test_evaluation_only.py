"""Evaluating released weights on a user's own clips (issue: the evaluation-only path):
no training split needed, a checkpoint folder, ``--tta none|report|N`` stated in the entry,
and clips that share a file name in different folders."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import torch

from ascbench.cli import main
from ascbench.leaderboard import ResultStore
from ascbench.scenes import SCENES

PLUGIN = """
import os
import torch
from ascbench import Model, System, hookimpl
from ascbench.systems import ComponentRef, EvaluationSettings, TrainingRecipe

class Released(torch.nn.Module):
    def __init__(self, num_classes=10, input_shape=(1, 16, 3), weights=None):
        super().__init__()
        self.conv = torch.nn.Conv2d(input_shape[0], 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, num_classes)
        if weights:
            if os.path.isdir(weights):  # a released model folder, as SP4ASC's
                weights = os.path.join(weights, "ckpt.pth")
            self.load_state_dict(torch.load(weights, weights_only=True))

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))

FRONTEND = ComponentRef(name="logmel", params={"n_mels": 16, "n_fft": 1024, "hop_length": 512})

@hookimpl
def register_models():
    return [Model("released_net", Released, "a net with released weights")]

@hookimpl
def register_systems():
    return [System(
        name="released", title="released", report="test", challenge="dcase2022",
        frontend=FRONTEND, model=ComponentRef(name="released_net", params={"weights": None}),
        recipe=TrainingRecipe(epochs=5, batch_size=4, specaugment={"time_masks": 1,
                              "time_width": 2, "freq_masks": 1, "freq_width": 4}),
        evaluation=EvaluationSettings(tta_passes=4, tta_params={"specaugment": True}),
    )]
"""


@pytest.fixture
def clips(tmp_path):
    """Twelve 1-s clips, every row split=test; three share one base name in three folders."""
    rng = np.random.default_rng(0)
    root = tmp_path / "clips"
    rows = []
    for i in range(12):
        folder = ["a", "b", "c"][i] if i < 3 else "more"
        name = "airport-barcelona-0-0-a.wav" if i < 3 else f"park-lisbon-{i}-0-a.wav"
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, rng.standard_normal(44_100) * 0.1 * (1 + i % 4), 44_100, subtype="PCM_16")
        rows.append((f"{folder}/{name}", SCENES[i % 10], "test"))
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "scene_label", "split"])
        writer.writerows(rows)
    return labels


@pytest.fixture
def released(plugin_dir, tmp_path):
    """The plugin, and a checkpoint folder holding ``ckpt.pth`` as SP4ASC's releases do."""
    from ascbench.plugins import load_registry

    module = plugin_dir("released_plugin", PLUGIN)
    registry = load_registry([module], entry_points=False, environment=False)
    torch.manual_seed(3)
    model = registry.get("model", "released_net").build(num_classes=10, input_shape=(1, 16, 87))
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    torch.save(model.state_dict(), folder / "ckpt.pth")
    return module, folder, model


def _evaluate(module, folder, labels, results, *extra):
    return main(
        ["--plugin", module, "run", "--system", "released", "--weights", str(folder),
         "--data", str(labels), "--results", str(results), "--cache", str(results / "cache"),
         "--no-progress", "--jobs", "1", *extra]
    )  # fmt: skip


def _predictions(results):
    path = results / "dcase2022" / "released" / "seed0.predictions.csv"
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_released_weights_on_test_only_clips_with_a_plain_pass(released, clips, tmp_path):
    module, folder, model = released
    results = tmp_path / "results"
    assert _evaluate(module, folder, clips, results, "--tta", "none") == 0
    (entry,) = ResultStore(results).load_all()
    assert entry.status in ("ok", "degenerate") and entry.provenance.budget.epochs == 0
    flags = " ".join(entry.complexity.flags)
    assert "a single plain pass (--tta; the recipe's: 4)" in flags
    assert "not trained: weights loaded" in flags
    rows = _predictions(results)
    names = [r["filename"] for r in rows]
    # the three clips named airport-barcelona-0-0-a.wav keep their folders: distinct keys
    assert len(names) == len(set(names)) == 12
    assert {"a/airport-barcelona-0-0-a.wav", "b/airport-barcelona-0-0-a.wav",
            "c/airport-barcelona-0-0-a.wav"} <= {n.removeprefix("audio/") for n in names}
    # the plain pass is the released model on the run's own features, nothing trained
    from ascbench.build import build_frontend
    from ascbench.data import load_dataset
    from ascbench.plugins import load_registry

    registry = load_registry([module], entry_points=False, environment=False)
    frontend = build_frontend(registry, registry.system("released"))
    dataset = load_dataset(str(clips), evaluation_only=True, progress=False)
    from ascbench.data.audio import load_audio

    root = clips.parent
    model.eval()
    for row in rows:
        key = row["filename"]
        audio = torch.as_tensor(load_audio(root / key, frontend.sample_rate), dtype=torch.float32)
        with torch.no_grad():
            x = frontend(audio).half().float()  # the feature cache stores float16
            expected = SCENES[int(model(x.reshape(1, *x.shape[-3:])).argmax())]
        assert row["scene_label"] == expected, key
    assert len(dataset.splits["train"]) == 0


def test_tta_is_stated_and_checked(released, clips, tmp_path, capsys):
    module, folder, _ = released
    results = tmp_path / "results"
    assert _evaluate(module, folder, clips, results, "--tta", "2") == 0
    (entry,) = ResultStore(results).load_all()
    assert "test-time augmentation: 2 passes (--tta; the recipe's: 4)" in entry.complexity.flags
    assert _evaluate(module, folder, clips, tmp_path / "r2", "--tta", "twice") == 2
    assert "--tta 'twice' is not understood" in capsys.readouterr().err


def test_a_training_split_is_still_needed_to_train(released, clips, tmp_path, capsys):
    module, _, _ = released
    code = main(
        ["--plugin", module, "run", "--system", "released", "--data", str(clips),
         "--results", str(tmp_path / "results"), "--no-progress", "--jobs", "1"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "the train split is empty" in err and "--weights" in err


def test_data_check_warns_about_shared_file_names(clips, capsys):
    assert main(["data", "check", str(clips)]) == 1  # no training clips
    assert "--evaluation-only" in capsys.readouterr().out
    assert main(["data", "check", "--evaluation-only", str(clips)]) == 0
    out = capsys.readouterr().out
    assert "3 clips share a file name with another clip in a different folder" in out
    assert "airport-barcelona-0-0-a.wav" in out
