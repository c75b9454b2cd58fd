"""Where a run keeps what its jobs make, besides the entries: the results folder's layout.

::

    <results>/<rule set>/<system>/seed<k>.json               the entry (leaderboard.ResultStore)
    <results>/<rule set>/<system>/seed<k>.predictions.csv    per-clip probabilities
    <results>/<rule set>/<system>/seed<k>.truth.csv          the test clips' labels and devices
                                                             (to verify the entry's numbers)
    <results>/<rule set>/<system>/seed<k>.model.pt           the final (compressed) model's
                                                             state dict, for export
    <results>/<rule set>/<system>/seed<k>.teacher.pt         a teacher's outputs on training clips
    <results>/<rule set>/<system>/seed<k>.error.txt          a failed job's traceback
    <results>/trained/<key>.pt, <key>.json                   trained weights, shared between
                                                             systems that train the same model
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ascbench.atomic import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    import torch


class ArtifactStore:
    """The files of one rule set's jobs under a results folder."""

    def __init__(self, results: Path, ruleset: str):
        self.results = Path(results)
        self.ruleset = ruleset

    def job_file(self, system: str, seed: int, suffix: str) -> Path:
        return self.results / self.ruleset / system / f"seed{seed}{suffix}"

    def predictions(self, system: str, seed: int) -> Path:
        """The per-clip predictions CSV, beside the entry (see ``ResultStore``)."""
        from ascbench.leaderboard import ResultStore

        return ResultStore(self.results).predictions_path(system, self.ruleset, seed)

    def truth(self, system: str, seed: int) -> Path:
        """The test clips' labels the entry was scored against (ascbench.leaderboard.verify)."""
        return self.job_file(system, seed, ".truth.csv")

    def final_model(self, system: str, seed: int) -> Path:
        """The state dict of the model the entry scored (after the compressor chain)."""
        return self.job_file(system, seed, ".model.pt")

    def teacher_outputs(self, teacher: str, seed: int) -> Path:
        return self.job_file(teacher, seed, ".teacher.pt")

    def error_report(self, system: str, seed: int) -> Path:
        return self.job_file(system, seed, ".error.txt")

    def trained_weights(self, key: dict[str, Any]) -> Path:
        """Where trained (uncompressed) weights are kept, named by a digest of everything that
        determines them (``key``), so that systems that train the same model train once."""
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        return self.results / "trained" / f"{digest[:20]}.pt"


def save_trained(path: Path, model: torch.nn.Module, system: str, epochs: int) -> None:
    """Store trained weights (and the epochs they were trained for) atomically."""
    import torch

    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write_text(path.with_suffix(".json"), json.dumps({"system": system, "epochs": epochs}))
    atomic_write_bytes(path, buffer.getvalue())


def save_state(path: Path, model: torch.nn.Module) -> None:
    """Store ``model``'s state dict atomically (quantized models included: packed parameters
    and dtypes load back with ``torch.load(weights_only=True)``)."""
    import torch

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_trained(path: Path, model: torch.nn.Module) -> int:
    """Load weights stored by :func:`save_trained` into ``model``; returns their epochs."""
    import torch

    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return int(json.loads(path.with_suffix(".json").read_text())["epochs"])
