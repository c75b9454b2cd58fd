"""CP-Mobile trained from scratch with the whole recipe on generated data: Frequency-MixStyle,
device impulse responses (generated here), waveform rolling, distillation from a stored logits
file and quantization-aware training, each compression stage's complexity in the entry."""

from __future__ import annotations

import csv
import json

import numpy as np
import soundfile as sf
import torch
from ascbench_schmid2023.plugin import DEVICE_IRS_ENV, TEACHER_LOGITS_ENV

from ascbench.cli import main
from ascbench.compressors import TeacherOutputs
from ascbench.data import SynthConfig, synthesize
from ascbench.scenes import SCENES

#: 3 scenes, a few dozen 1-s clips (the core tests' tiny set)
TINY = SynthConfig(
    style="tau2022", scenes=("airport", "bus", "park"), locations_train=2, locations_test=1,
    train_a=4, train_per_device=1, test_per_device=1, slices=2,
)  # fmt: skip


def _impulse_responses(folder):
    """Three decaying-noise responses of 20-60 ms at 32 kHz, like short device responses."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, ms in enumerate((20, 40, 60)):
        n = 32 * ms
        ir = rng.standard_normal(n) * np.exp(-np.arange(n) / (n / 5))
        ir[0] = 1.0
        sf.write(folder / f"device{i}.wav", (ir / np.abs(ir).max()).astype(np.float32), 32000)
    return folder


def test_cp_mobile_trains_with_the_whole_recipe(tmp_path, monkeypatch, capsys):
    data = synthesize(tmp_path / "data", TINY)
    with open(data / "evaluation_setup" / "fold1_train.csv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    logits = torch.stack([4.0 * torch.eye(10)[SCENES.index(r["scene_label"])] for r in rows])
    teacher = TeacherOutputs(logits, [r["filename"] for r in rows], fingerprint="")
    monkeypatch.setenv(TEACHER_LOGITS_ENV, str(teacher.to_csv(tmp_path / "ensemble.csv")))
    monkeypatch.setenv(DEVICE_IRS_ENV, str(_impulse_responses(tmp_path / "irs")))
    results = tmp_path / "results"
    code = main(
        ["run", "--rules", "dcase2023", "--system", "schmid2023_cpmobile_full", "--data",
         str(data), "--results", str(results), "--budget", "1", "--no-progress", "--cache",
         str(tmp_path / "cache"), "--jobs", "1"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "features computed per batch" in err
    assert "int8_qat: quantization-aware fine-tuning" in err
    entry = json.loads(
        (results / "dcase2023" / "schmid2023_cpmobile_full" / "seed0.json").read_text()
    )
    assert entry["status"] != "failed", entry.get("error")
    notes = " ".join(entry["complexity"]["flags"])
    assert "waveform augmentation (DeviceImpulseResponse, WaveformRoll)" in notes
    stages = [s["name"] for s in entry["stages"]]
    assert stages == ["uncompressed", "int8_qat"]
    assert entry["stages"][-1]["metrics"]["accuracy"] is not None
    # counted before fusion as dcase2023 says: the authors' 126,952 values at 1 B each
    assert (entry["complexity"]["parameters"], entry["complexity"]["bytes"]) == (126952, 126952)
    assert entry["complexity"]["macs"] == 28893268
    # the board shows each stage's complexity
    board = (results / "leaderboard-dcase2023.md").read_text()
    stages_section = board.split("## Compression stages", 1)[1].split("## Provenance")[0]
    assert "| schmid2023_cpmobile_full | 0 | int8_qat | 126,952 |" in stages_section
