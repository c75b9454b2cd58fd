"""One-line errors from pydantic's validation errors: where, what, and how many more."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from ascbench.errors import describe_problem, first_problem, one_line
from ascbench.plugins import load_registry


class _Inner(BaseModel):
    rate: float


class _Config(BaseModel):
    name: str
    inner: _Inner

    @field_validator("name")
    @classmethod
    def _short(cls, value: str) -> str:
        if len(value) > 3:
            raise ValueError("at most 3 characters")
        return value


def _error(**data) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _Config(**data)
    return info.value


def test_the_first_problem_names_its_field_path_and_counts_the_rest():
    exc = _error(name="long", inner={"rate": "fast"})
    where, message, more = first_problem(exc)
    assert (where, more) == ("name", 1)
    assert message == "at most 3 characters"  # without pydantic's "Value error, "
    assert describe_problem(exc) == "at 'name': at most 3 characters (and 1 more problems)"
    nested = _error(name="ok", inner={"rate": "fast"})
    assert describe_problem(nested).startswith("at 'inner.rate': Input should be a valid number")


def test_a_problem_of_the_whole_input_is_at_the_top_level():
    with pytest.raises(ValidationError) as info:
        _Inner.model_validate([1, 2])
    assert describe_problem(info.value).startswith("at '(top level)': Input should be")


def test_one_line_gives_a_validation_errors_model_and_first_problem_not_its_count():
    exc = _error(inner={})
    assert str(exc).splitlines()[0] == "2 validation errors for _Config"
    assert re.fullmatch(
        r"ValidationError: _Config at 'name': Field required \(and 1 more problems\) "
        r"\(test_errors\.py:\d+\)",
        one_line(exc),
    ), one_line(exc)
    assert one_line(ValueError("plain\nsecond line")) == "ValueError: plain"


def test_a_plugin_registering_an_invalid_system_is_told_which_fields(tmp_path, monkeypatch):
    (tmp_path / "half_plugin.py").write_text(
        "from ascbench import hookimpl\n"
        "from ascbench.systems import ComponentRef, System\n\n\n"
        "@hookimpl\n"
        "def register_systems():\n"
        "    return [System(name='half', title='t', frontend=ComponentRef(name='logmel'),\n"
        "                   model=ComponentRef(name='m'))]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = load_registry(["half_plugin"], entry_points=False, environment=False)
    (info,) = [p for p in registry.plugins if p.name == "half_plugin"]
    assert any(
        "ValidationError: System at 'report': Field required (and 1 more problems) "
        "(half_plugin.py:7)" in error
        for error in info.errors
    ), info.errors


def test_a_bad_specaugment_for_tta_names_the_field_not_a_tuple():
    from ascbench.evaluation.errors import EvaluationError
    from ascbench.evaluation.evaluate import build_tta
    from ascbench.systems import EvaluationSettings, TrainingRecipe

    settings = EvaluationSettings(tta_passes=3, tta_params={"specaugment": {"freq_masks": "x"}})
    with pytest.raises(EvaluationError) as info:
        build_tta(settings, TrainingRecipe())
    message = str(info.value)
    assert message.startswith("tta_params.specaugment at 'freq_masks': ")
    assert "('freq_masks',)" not in message  # the location as a field path, not a tuple


def test_a_misspelt_or_missing_component_parameter_names_the_entry_and_what_it_takes():
    from ascbench.components import ModelEntry
    from ascbench.errors import AscbenchError

    def net(num_classes: int = 10, input_shape=(1, 40, 51), *, width: int, dropout=0.3):
        return (num_classes, width)

    entry = ModelEntry("net", net, "a net", plugin="mine")
    assert entry.build(width=4) == (10, 4)
    with pytest.raises(AscbenchError) as info:
        entry.build(width=4, widht=3)
    assert str(info.value) == (
        "model 'net' (plugin 'mine'): got an unexpected keyword argument 'widht'; it takes "
        "num_classes, input_shape, width, dropout"
    )
    with pytest.raises(AscbenchError, match="missing a required argument: 'width'"):
        entry.build()
    # a factory taking **params gets whatever the system gives
    assert ModelEntry("any", lambda **params: params).build(a=1) == {"a": 1}


@pytest.mark.parametrize(
    ("filename", "ours"),
    [
        # a virtual environment inside a clone called ascbench: pydantic is still a library
        ("/home/u/ascbench/.venv/lib/python3.12/site-packages/pydantic/main.py", False),
        (
            "/home/u/ascbench-check/.venv/lib/python3.12/site-packages/torch/nn/modules/module.py",
            False,
        ),
        ("/usr/lib/python3/dist-packages/ascbench_puy2021/model.py", True),
        ("/venv/lib/python3.12/site-packages/ascbench/jobs/job.py", True),
        ("/home/u/ascbench/ascbench/errors.py", True),
        ("/tmp/my_plugin.py", True),
    ],
)
def test_the_line_an_error_names_is_in_ascbench_a_plugin_or_the_users_code(filename, ours):
    from ascbench.errors import _is_ours

    assert _is_ours(filename) is ours
