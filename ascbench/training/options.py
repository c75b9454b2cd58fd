"""Reading a training recipe's options: the one place that knows each option's default.

An option is a :class:`~ascbench.systems.TrainingRecipe` field (its default is the field's)
or, for options the recipe has no field for, a key of ``recipe.extra`` with its default in
:data:`EXTRA_OPTIONS`. ``extra[name]`` is honoured for fields too, so systems written before a
field existed keep working. :class:`RecipeOptions` is the trainer's validated view of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch

from ascbench.systems import TrainingRecipe
from ascbench.training.augment import MIXUP_MODES
from ascbench.training.errors import RecipeError

#: Recipe options without a ``TrainingRecipe`` field, read from ``recipe.extra``, and their
#: defaults.
EXTRA_OPTIONS: dict[str, Any] = {"memory_format": "contiguous"}

#: ``checkpoint`` values: the weights a run keeps.
CHECKPOINTS: tuple[str, ...] = get_args(TrainingRecipe.model_fields["checkpoint"].annotation)
SHIFT_MODES: tuple[str, ...] = get_args(TrainingRecipe.model_fields["shift_mode"].annotation)

#: ``memory_format`` recipe option: the layout of 4-d weights and batches while training.
#: ``channels_last`` (NHWC) lets oneDNN use its blocked kernels without reordering; measured on
#: one core of an AVX2 EPYC (training step, CPU time): cao2021 1.4-1.9x, DCASE baselines 1.35x,
#: kim2021 1.4x, shao2022 1.1-1.15x faster; puy2021 1.7x slower (dilated depthwise
#: convolutions; 1.2x slower on an AVX-512 EPYC), hence opt-in per recipe. verbitskiy2021:
#: 1.5x faster (AVX-512) once its strided 1x1 shortcut is computed as subsample + 1x1 conv: the
#: weight gradient of a strided 1x1 conv in NHWC corrupts the heap in torch 2.13's oneDNN, so a
#: model that has one should do the same. Sums run in another order, so the numbers differ from
#: ``contiguous`` (still the same from run to run). The model is given back in the contiguous
#: layout.
MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}

_DEFAULT: Any = object()


def option_default(name: str) -> Any:
    """The default of recipe option ``name`` (the field's, else :data:`EXTRA_OPTIONS`')."""
    field = TrainingRecipe.model_fields.get(name)
    if field is not None:
        return field.get_default(call_default_factory=True)
    if name in EXTRA_OPTIONS:
        return EXTRA_OPTIONS[name]
    raise RecipeError(f"{name!r} is not a recipe option")


def recipe_option(recipe: TrainingRecipe, name: str, default: Any = _DEFAULT) -> Any:
    """A recipe option given as a ``TrainingRecipe`` field (once it has one) or in ``extra``.

    ``extra[name]`` is honoured either way, so systems written before a field existed keep
    working; setting both the field and ``extra[name]`` is an error. An option that is neither
    a field nor in ``extra`` is ``default`` when given, else :func:`option_default`.
    """
    is_field = name in type(recipe).model_fields
    if name in recipe.extra:
        if is_field and name in recipe.model_fields_set:
            raise RecipeError(f"recipe sets {name} both as a field and in extra; keep the field")
        return recipe.extra[name]
    if is_field:
        return getattr(recipe, name)
    return option_default(name) if default is _DEFAULT else default


@dataclass(frozen=True)
class RecipeOptions:
    """The recipe options the trainer reads through :func:`recipe_option`, validated (values
    from ``extra`` bypass the recipe's own validation)."""

    mixup_mode: str
    frozen_epochs: int | None
    time_crop: int | None
    time_shift: float
    shift_mode: Literal["roll", "nearest"]
    freq_shift: int
    drop_last: bool
    checkpoint: str
    optimizer_params: dict[str, Any]
    memory_format: Literal["contiguous", "channels_last"]

    @classmethod
    def from_recipe(cls, recipe: TrainingRecipe) -> RecipeOptions:
        values = {f.name: recipe_option(recipe, f.name) for f in dataclasses.fields(cls)}
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        _check_choice("mixup_mode", self.mixup_mode, tuple(MIXUP_MODES))
        if self.frozen_epochs is not None and not _positive_int(self.frozen_epochs):
            raise RecipeError(
                f"frozen_epochs must be a positive integer, got {self.frozen_epochs!r}"
            )
        if self.time_crop is not None and not _positive_int(self.time_crop):
            raise RecipeError(
                f"time_crop must be a positive number of frames, got {self.time_crop!r}"
            )
        if not isinstance(self.time_shift, (int, float)) or not 0 <= self.time_shift <= 1:
            raise RecipeError(f"time_shift must be a fraction in [0, 1], got {self.time_shift!r}")
        if self.shift_mode not in SHIFT_MODES:
            raise RecipeError(f"shift_mode must be 'roll' or 'nearest', got {self.shift_mode!r}")
        if not isinstance(self.freq_shift, int) or self.freq_shift < 0:
            raise RecipeError(f"freq_shift must be a non-negative integer, got {self.freq_shift!r}")
        _check_choice("checkpoint", self.checkpoint, CHECKPOINTS)
        if not isinstance(self.optimizer_params, dict):
            raise RecipeError("optimizer_params must be a mapping")
        if self.memory_format not in MEMORY_FORMATS:
            raise RecipeError(
                f"memory_format must be one of {', '.join(MEMORY_FORMATS)}, "
                f"got {self.memory_format!r}"
            )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and value >= 1


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise RecipeError(f"{name} {value!r} is unknown; choose one of {', '.join(choices)}")
