"""The plugin guide's reference (docs/writing-a-plugin.md) is what scripts/guide_reference.py
makes of the pydantic models and built-in components, and a new field shows up in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "guide_reference.py"


@pytest.fixture(scope="module")
def reference():
    # the script imports readme_block beside it
    return load_script("scripts/guide_reference.py", "ascbench_guide_reference")


def test_the_guide_reference_block_is_current():
    """After changing a model, a Params class or a built-in component:
    `python scripts/guide_reference.py --write`."""
    out = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_reference_covers_every_model_and_builtin_component(reference):
    from ascbench.plugins import load_registry

    text = reference.block()
    for model in ("System", "ComponentRef", "TrainingRecipe", "SpecAugment", "Distillation",
                  "DeviceSpecific", "EvaluationSettings", "ReportedResults"):  # fmt: skip
        assert f"\n### {model}\n" in text
    registry = load_registry(entry_points=False, environment=False)
    for kind in ("frontend", "compressor", "augmentation", "lr_schedule"):
        for name, entry in registry.entries[kind].items():
            assert entry.plugin == "ascbench"
            assert f"\n#### `{name}`\n" in text, (kind, name)
    for section in ("scheduler_params", "optimizer_params", "extra", "tta_params"):
        assert f"\n#### {section}\n" in text
    assert "| `mode` | `\"fx\" \\| \"eager\"` | `\"fx\"` |" in text  # int8_static's Params
    assert "| `n_mels` | `int` | `256` | Mel bands. |" in text  # LogMel's signature


class _Probe(BaseModel):
    """A throwaway model, as a plugin author's recipe would grow one."""

    epochs: int = Field(30, ge=1, description="Epochs of the recipe.")
    shift: float | None = Field(None, gt=0, lt=1, description="A fraction; null = off.")
    mode: Literal["a", "b"] = Field("a", description="Which | way.")
    layers: list[str] = Field(default_factory=lambda: ["x", "y"], description="Layer names.")
    source: str = Field(description="Where it comes from.")


def test_a_field_added_to_a_model_appears_with_type_default_and_meaning(reference):
    rows = {row.field: row for row in reference.model_rows(_Probe)}
    assert list(rows) == ["`epochs`", "`shift`", "`mode`", "`layers`", "`source`"]
    assert rows["`epochs`"] == ("`epochs`", "`int` ≥ 1", "`30`", "Epochs of the recipe.")
    assert rows["`shift`"].type == "`float | None` > 0, < 1"
    assert rows["`shift`"].default == "`null`"
    assert rows["`mode`"].type == '`"a" | "b"`'
    assert rows["`layers`"].default == '`["x", "y"]`'
    assert rows["`source`"].default == reference.REQUIRED
    table = reference.table(reference.model_rows(_Probe))
    assert table[:2] == ["| field | type | default | meaning |", "|---|---|---|---|"]
    # pipes are escaped in every cell, code spans included, so the table keeps four columns
    assert '| `mode` | `"a" \\| "b"` | `"a"` | Which \\| way. |' in table


def test_a_field_without_a_description_is_refused(reference):
    class Bare(BaseModel):
        size: int = 3

    with pytest.raises(reference.ReferenceError, match="Bare.size has no description"):
        reference.model_rows(Bare)


def test_a_component_argument_without_a_meaning_is_refused(reference):
    def schedule(warmup: float = 1.0, floor: float = 0.0):
        return lambda epoch, epochs: 1.0

    rows = reference.signature_rows(schedule, {"warmup": "Warm-up epochs.", "floor": "Floor."})
    assert rows[0] == ("`warmup`", "`float`", "`1.0`", "Warm-up epochs.")
    with pytest.raises(reference.ReferenceError, match=r"without a meaning .*\['floor'\]"):
        reference.signature_rows(schedule, {"warmup": "Warm-up epochs."})
    with pytest.raises(reference.ReferenceError, match=r"no longer has: \['gone'\]"):
        reference.signature_rows(schedule, {"warmup": "w", "floor": "f", "gone": "g"})
