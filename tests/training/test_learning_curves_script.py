"""benchmarks/learning_curves.py is a script, not a timed test; these keep it running as the
package changes under it (the redesign renamed what it imported, and nothing noticed)."""

from __future__ import annotations

import json

import pytest

from ascbench.data.synth import SynthConfig
from ascbench.plugins import load_registry
from tests.scripts import load_script


def _script():
    return load_script("benchmarks/learning_curves.py", "learning_curves")


def test_a_student_runs_after_its_teacher_in_one_group():
    groups = _script()._groups(load_registry(), ["shao2022_student_proposal", "dcase2022_baseline"])
    assert sorted(groups) == [
        ["dcase2022_baseline"],
        ["shao2022_teacher_proposal", "shao2022_student_proposal"],
    ]


def test_one_epoch_of_a_curve_on_small_default_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ASCBENCH_CACHE", str(tmp_path / "cache"))
    small = SynthConfig(style="tau2022", scenes=("bus", "park"), locations_train=2,
                        locations_test=1, train_a=4, train_per_device=2, test_per_device=2,
                        slices=2)  # fmt: skip
    tiny = classmethod(lambda cls, style="tau2022", **kw: small)
    monkeypatch.setattr(SynthConfig, "default", tiny)
    out = tmp_path / "curves"
    code = _script().main(["--system", "dcase2022_baseline", "--epochs", "1", "--out", str(out)])
    assert code in (0, None)
    doc = json.loads((out / "learning_curves.json").read_text())
    (record,) = doc["systems"]
    assert "error" not in record, record.get("error")
    assert len(record["history"]) == 1 and record["history"][0]["test_accuracy"] is not None
    assert (out / "learning_curves.png").stat().st_size > 0


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """The script sets torch's thread count (--threads) in this process; put it back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
