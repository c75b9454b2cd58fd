#!/usr/bin/env python
"""The plugin guide's reference of every field and parameter a plugin author fills in,
generated into docs/writing-a-plugin.md (block ``reference``).

    python scripts/guide_reference.py             # print the block
    python scripts/guide_reference.py --write     # rewrite the guide's block
    python scripts/guide_reference.py --check     # exit 1 if the guide differs (a test runs it)

What it covers and where each column comes from:

- the pydantic models of :mod:`ascbench.systems` (``System``, ``ComponentRef``,
  ``TrainingRecipe``, ``SpecAugment``, ``Distillation``, ``DeviceSpecific``,
  ``EvaluationSettings``, ``ReportedResults``): names, types, constraints, defaults and
  ``Field(description=...)`` from the models themselves;
- every built-in compressor (registered by ascbench itself, not a plugin): its ``Params``
  model, the same way;
- the built-in frontends, augmentations and learning-rate schedules, which are plain
  functions and classes: names, types and defaults from their signatures, the meaning from
  :data:`MEANINGS` here;
- the keys of ``scheduler_params``, ``optimizer_params``, ``extra`` and ``tta_params``: the key
  sets from the tables ascbench validates them against (``SCHEDULER_KEYS``, ``OPTIMIZER_KEYS``,
  ``EXTRA_OPTIONS``, ``TTA_KEYS``), the optimizers' defaults from PyTorch's signatures, the
  rest from :data:`KEYS` here.

A model field without a description, a component argument or a validated key without an
entry here, or an entry here for something that no longer exists, is an error: the block
cannot be made, and ``--check`` (and the test) fail until the description is written.
"""

from __future__ import annotations

import collections.abc
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, NamedTuple

import readme_block
from pydantic import BaseModel
from pydantic.fields import FieldInfo

NAME = "reference"
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "writing-a-plugin.md"
SCRIPT = "scripts/guide_reference.py"
REQUIRED = "*required*"
NO_DEFAULT = "—"


class Row(NamedTuple):
    """One table row, as Markdown cell texts."""

    field: str
    type: str
    default: str
    meaning: str


class ReferenceError(ValueError):
    """Something the reference must describe has no description."""


# -- cells -----------------------------------------------------------------------------------
def type_name(tp: Any) -> str:
    """A readable, JSON-minded name of a type annotation: ``int``, ``float | None``,
    ``list[ComponentRef]``, ``"adam" | "sgd"`` (a Literal's values); sequences are lists."""
    if tp is type(None) or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " | ".join(named + ["None"] * (len(named) < len(args)))
    if origin in (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Set):
        inner = [a for a in args if a is not Ellipsis]
        if origin is tuple and len(set(inner)) > 1:
            return f"list[{' | '.join(dict.fromkeys(type_name(a) for a in inner))}]"
        return f"list[{type_name(inner[0])}]" if inner else "list"
    if origin in (dict, collections.abc.Mapping):
        return f"dict[{type_name(args[0])}, {type_name(args[1])}]" if args else "dict"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def literal(value: Any) -> str:
    """A default as a JSON-like literal (``null``, ``true``, ``[16, 32]``, ``"adam"``)."""
    if isinstance(value, BaseModel):
        return f"`{type(value).__name__}()`"
    try:
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    except TypeError:
        return f"`{value!r}`"


def _constraints(field: FieldInfo) -> list[str]:
    out = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                out.append(f"{sign} {getattr(item, attr):g}")
        if getattr(item, "min_length", None) is not None:
            out.append(f"at least {item.min_length} item{'s' * (item.min_length != 1)}")
        if getattr(item, "pattern", None) is not None:
            out.append(f"matching `{item.pattern}`")
    return out


def cell(text: str) -> str:
    """Text for a table cell: one line, pipes escaped (also inside code spans, as GFM needs)."""
    return " ".join(text.split()).replace("|", "\\|")


# -- rows ------------------------------------------------------------------------------------
def model_rows(model: type[BaseModel]) -> list[Row]:
    """A row per field of a pydantic model, in declaration order; :class:`ReferenceError` for a
    field without ``Field(description=...)``."""
    rows = []
    for name, field in model.model_fields.items():
        if not field.description:
            raise ReferenceError(
                f"{model.__module__}.{model.__qualname__}.{name} has no description; give it "
                f"Field(description=...) and run {SCRIPT} --write"
            )
        kind = " ".join([f"`{type_name(field.annotation)}`", ", ".join(_constraints(field))])
        if field.is_required():
            default = REQUIRED
        else:
            default = literal(field.get_default(call_default_factory=True, validated_data={}))
        rows.append(Row(f"`{name}`", kind.strip(), default, field.description))
    return rows


def signature_rows(factory: Callable[..., Any], meanings: dict[str, str]) -> list[Row]:
    """A row per argument of a factory (a class: its ``__init__``): type and default from the
    signature, the meaning from ``meanings``, which must name exactly the arguments."""
    target = factory.__init__ if isinstance(factory, type) else factory
    params = [p for n, p in inspect.signature(target).parameters.items() if n != "self"]
    names = {p.name for p in params}
    where = getattr(factory, "__qualname__", repr(factory))
    if names != set(meanings):
        missing, stale = sorted(names - set(meanings)), sorted(set(meanings) - names)
        raise ReferenceError(
            f"{where}: arguments without a meaning in {SCRIPT}: {missing or 'none'}; meanings "
            f"of arguments it no longer has: {stale or 'none'}"
        )
    hints = typing.get_type_hints(target)
    rows = []
    for p in params:
        kind = f"`{type_name(hints.get(p.name, Any))}`"
        if p.kind is p.VAR_KEYWORD:
            rows.append(Row(f"`**{p.name}`", kind, NO_DEFAULT, meanings[p.name]))
            continue
        default = REQUIRED if p.default is p.empty else literal(p.default)
        rows.append(Row(f"`{p.name}`", kind, default, meanings[p.name]))
    return rows


def key_rows(
    what: str, keys: Iterable[str], described: dict[str, tuple[str, str, str]]
) -> list[Row]:
    """Rows for the keys of a free-form dict that ascbench validates against ``keys``:
    ``described`` maps each key to its (type, default, meaning) and must name exactly them; the
    rows are in its order (``keys`` is often a set)."""
    keys = set(keys)
    if keys != set(described):
        raise ReferenceError(
            f"{what}: keys without a meaning in {SCRIPT}: "
            f"{sorted(set(keys) - set(described)) or 'none'}; described keys ascbench no "
            f"longer accepts: {sorted(set(described) - set(keys)) or 'none'}"
        )
    return [Row(f"`{k}`", f"`{kind}`", default, meaning) for k, (kind, default, meaning) in
            described.items()]


def table(rows: list[Row]) -> list[str]:
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def model_section(model: type[BaseModel]) -> list[str]:
    """Heading, the model's docstring and its table."""
    import ascbench

    doc = " ".join((inspect.getdoc(model) or "").split("\n\n")[0].split())
    name = model.__name__
    where = "ascbench" if getattr(ascbench, name, None) is model else model.__module__
    source = f"`from {where} import {name}`"
    return ["", f"### {name}", "", f"{doc} {source}", "", *table(model_rows(model))]


# -- what the guide describes beyond the models ----------------------------------------------
def _lazy_meanings() -> dict[str, dict[str, str]]:
    from ascbench.frontends import PRESETS

    presets = ", ".join(f"`{n}`" for n in PRESETS)
    from_frontend = (
        "Set by ascbench to the frontend's sample rate (a value in params replaces it)."
    )
    return {
        "logmel": {
            "sample_rate": "Sample rate in Hz; audio is read (resampled) at this rate.",
            "n_fft": "FFT size, in samples.",
            "win_length": "Window length in samples, centred in n_fft; null = n_fft.",
            "hop_length": "Samples between frames.",
            "window": "Window: any scipy.signal.get_window name.",
            "center": "Pad n_fft // 2 samples per side (with pad_mode) so frames are centred.",
            "pad_mode": "Padding when center: zeros (constant) or reflection.",
            "power": "Exponent of |STFT|: 2 = power, 1 = magnitude.",
            "n_mels": "Mel bands.",
            "fmin": "Lowest filter frequency, Hz.",
            "fmax": "Highest filter frequency, Hz; null = Nyquist.",
            "mel_scale": "Mel scale: slaney or htk; kaldi = Kaldi's filters (triangles linear "
            "in mel, Nyquist bin unused, no normalisation).",
            "mel_norm": "Filter normalisation: slaney (equal area) or null (none).",
            "log": "db = power_to_db (ref, amin, top_db; 10*log10 also for power 1); ln = "
            "ln(mel + amin); none = linear.",
            "amin": "Floor of the values before the logarithm (db), or added to them (ln).",
            "ref": "dB reference: a number, or max (each clip's maximum).",
            "top_db": "Clip dB values more than this below the clip's maximum; null = no clip.",
            "deltas": "Extra channels: 0, 1 (deltas) or 2 (deltas and delta-deltas).",
            "delta_width": "Frames of the delta's least-squares window (odd, ≥ 3).",
            "max_frames": "Keep only the first frames (e.g. 500); null = all.",
            "delta_mode": "Delta edges: nearest (repeat edge frames), interp (librosa's "
            "default) or valid (crop, Hu et al.).",
            "weighting": "A = CP-JKU's processor_d18: A-weighted dB per FFT bin, then the mel "
            "filterbank on the dB values (needs log db); null = none.",
            "scaling": "minmax = per clip (x - min) / (max - min) (Hu et al.); null = none.",
            "precision": "dtype of windowing and FFT: float64 matches librosa; float32 is "
            "faster but up to ~1 dB off in bands ~100 dB below a frame's loudest.",
            "periodic": "Periodic window (true) or symmetric (false, as CP-JKU's).",
            "preemphasis": "p > 0: y[n] = x[n + 1] - p*x[n] before the STFT (one sample "
            "shorter); 0 = off.",
            "mean": "Features become (x - mean) / std after the log and scaling.",
            "std": "See mean (CP-JKU: mean -4.5, std 5).",
        },
        "logmel-preset": {
            "name": f"The preset: {presets} (settings in ascbench/frontends/presets.py).",
            "overrides": "Any `logmel` argument, replacing the preset's value.",
        },
        "freq_mixstyle": {
            "p": "Probability that a batch is mixed.",
            "alpha": "Mixing weights drawn from Beta(alpha, alpha), one per example.",
            "eps": "Added to the per-frequency variance before its square root.",
        },
        "device_ir": {
            "folder": "Folder of .wav device impulse responses (e.g. MicIRP), searched "
            "recursively; '~' is expanded.",
            "p": "Probability that a clip of one of devices is convolved.",
            "devices": "Recording devices whose clips are convolved.",
            "sample_rate": from_frontend,
        },
        "waveform_roll": {
            "max_shift": "Largest shift in samples, either way (CP-JKU: 4,000 at 32 kHz).",
            "sample_rate": from_frontend,
        },
        "warmup_cosine": {
            "warmup_epochs": "Linear warm-up from 0, in the report's epochs.",
            "final_factor": "The cosine ends at this fraction of lr at the last epoch.",
        },
        "exp_warmup_linear_down": {
            "warmup": "Epochs of exponential warm-up exp(-5 (1 - e/warmup)^2).",
            "rampdown_start": "Epoch at which the linear ramp-down starts.",
            "rampdown_length": "Epochs the ramp-down lasts.",
            "last_value": "Fraction of lr reached at the end of the ramp, and kept.",
        },
    }


#: ``(type, default, meaning)`` of the keys of the recipe's free-form dicts, by what they are.
KEYS: dict[str, dict[str, tuple[str, str, str]]] = {
    "cosine": {
        "eta_min": ("float", "`0.0`", "Learning rate at the end of the run."),
        "interval": ('"epoch" | "step"', '`"epoch"`',
                     "Step the cosine per epoch (as SP4ASC) or per batch; it spans the "
                     "budgeted run."),
    },
    "one_cycle": {
        "max_lr": ("float", "the recipe's lr", "Peak learning rate."),
        "pct_start": ("float", "`0.3`", "Fraction of the steps spent rising."),
        "div_factor": ("float", "`25.0`", "Starting lr = max_lr / div_factor."),
        "final_div_factor": ("float", "`10000.0`",
                             "Final lr = starting lr / final_div_factor."),
        "anneal_strategy": ('"cos" | "linear"', '`"cos"`', "Shape of the annealing."),
        "three_phase": ("bool", "`false`", "Use PyTorch's three-phase variant."),
        "cycle_momentum": ("bool", "true when the optimizer has momentum or betas",
                           "Cycle momentum inversely to the lr."),
        "base_momentum": ("float", "`0.85`", "Lowest momentum of the cycle."),
        "max_momentum": ("float", "`0.95`", "Highest momentum of the cycle."),
    },
    "warm_restarts": {
        "periods": ("list[float]", "none: t0, then times t_mult",
                    "Lengths of the periods in the report's epochs; after the last one, "
                    "periods keep growing by t_mult."),
        "t0": ("float", "`1.0`", "Length of the first period (when periods is not given)."),
        "t_mult": ("float", "`2.0`", "Each period is t_mult times the one before."),
        "eta_min": ("float", "`0.0`", "Learning rate at the end of each period."),
        "scale_to_budget": ("bool", "`true`",
                            "Scale the period boundaries by budgeted epochs / recipe epochs, "
                            "so a shortened run goes through the same restarts."),
    },
    "adam": {
        "betas": ("list[float]", "", "Coefficients of the running averages of the gradient "
                  "and its square."),
        "eps": ("float", "", "Added to the denominator."),
        "amsgrad": ("bool", "", "Use the AMSGrad variant."),
    },
    "sgd": {
        "nesterov": ("bool", "", "Nesterov momentum."),
        "dampening": ("float", "", "Dampening of the momentum."),
    },
    "extra": {
        "memory_format": ('"contiguous" | "channels_last"', "",
                          "Layout of 4-d weights and batches while training; channels_last "
                          "is faster on some models (ascbench/training/options.py)."),
        "finetune_epochs": ("int", "half the epochs trained",
                            "Epochs of a compressor's fine-tuning (prune_l1, int8_qat) under "
                            "--full; under a shorter budget the same share of the epochs "
                            "trained (finetune_epochs / epochs of them, at least 1; CP-Mobile's "
                            "24 of 150 become 2 of 10)."),
    },
    "tta": {
        "method": ('"input" | "model"', '`"input"`',
                   "input: augment the features before the model; model: the model's own "
                   "test_time_augmentation(enabled) modules do it."),
        "specaugment": ("bool | SpecAugment", "`false`",
                        "input: true = the recipe's specaugment, or a mapping of SpecAugment "
                        "fields."),
        "time_shift": ("float", "`0.0`", "input: random time shift, ± this fraction of the "
                       "frames."),
        "shift_mode": ('"roll" | "nearest"', '`"roll"`', "input: time-shift fill."),
        "freq_shift": ("int", "`0`", "input: random frequency shift, ± this many bins."),
        "seed": ("int", "the run's seed", "Seed of the TTA draws."),
        "description": ("str", NO_DEFAULT, "Free text, ignored."),
    },
}


def _torch_defaults(optimizer: type, described: dict) -> dict[str, tuple[str, str, str]]:
    """The described keys with PyTorch's own defaults of ``optimizer``'s arguments."""
    sig = inspect.signature(optimizer)
    return {
        k: (kind, literal(sig.parameters[k].default) if k in sig.parameters else "", meaning)
        for k, (kind, _, meaning) in described.items()
    }


def _recipe_keys() -> list[str]:
    import torch

    from ascbench.training.optim import OPTIMIZER_KEYS, SCHEDULER_KEYS
    from ascbench.training.options import EXTRA_OPTIONS

    lines = [
        "",
        "#### scheduler_params",
        "",
        "Keys of `scheduler_params` for each built-in `scheduler` (`none` takes none); a "
        "registered schedule goes in `lr_schedule` instead ([below](#learning-rate-schedules)).",
    ]
    for name in (n for n in SCHEDULER_KEYS if n != "none"):
        lines += ["", f"`scheduler={json.dumps(name)}`:", ""]
        described = KEYS.get(name, {})
        lines += table(key_rows(f"scheduler_params of {name}", SCHEDULER_KEYS[name], described))
    lines += [
        "",
        "#### optimizer_params",
        "",
        "Extra PyTorch arguments of the `optimizer`, with PyTorch's defaults.",
    ]
    torch_class = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    for name, keys in OPTIMIZER_KEYS.items():
        if name not in torch_class:
            raise ReferenceError(f"optimizer {name!r} is not described in {SCRIPT}")
        described = _torch_defaults(torch_class[name], KEYS["sgd" if name == "sgd" else "adam"])
        lines += ["", f"`optimizer={json.dumps(name)}`:", ""]
        lines += table(key_rows(f"optimizer_params of {name}", keys, described))
    extra = dict(KEYS["extra"])
    for key, default in EXTRA_OPTIONS.items():
        if key in extra:
            extra[key] = (extra[key][0], literal(default), extra[key][2])
    lines += [
        "",
        "#### extra",
        "",
        "Recipe options without a field of their own. (A field's name in `extra` is read as "
        "that field, for systems written before the field existed; setting both is an error.)",
        "",
        *table(key_rows("recipe extra", [*EXTRA_OPTIONS, "finetune_epochs"], extra)),
    ]
    return lines


def _tta_keys() -> list[str]:
    from ascbench.evaluation.evaluate import TTA_KEYS

    keys = ["method", *sorted(set().union(*TTA_KEYS.values())), "seed", "description"]
    return [
        "",
        "#### tta_params",
        "",
        "Keys of `tta_params` (`ascbench/evaluation/evaluate.py`); those marked input apply to "
        "`method` input only.",
        "",
        *table(key_rows("tta_params", keys, KEYS["tta"])),
    ]


def _builtin(kind: str) -> list[Any]:
    from ascbench.plugins import load_registry

    registry = load_registry(entry_points=False, environment=False)
    return [e for e in registry.entries[kind].values() if e.plugin == "ascbench"]


def _component_heading(entry: Any) -> list[str]:
    return ["", f"#### `{entry.name}`", "", cell(entry.description) + "."]


def _components() -> list[str]:
    meanings = _lazy_meanings()
    described = set()

    def rows(entry: Any) -> list[Row]:
        if entry.name not in meanings:
            raise ReferenceError(f"built-in {entry.name!r} has no meanings in {SCRIPT}")
        described.add(entry.name)
        return signature_rows(entry.factory, meanings[entry.name])

    lines = [
        "",
        "### Frontends",
        "",
        "`frontend=ComponentRef(name=..., params={...})`: the arguments go in `params`.",
    ]
    for entry in _builtin("frontend"):
        lines += [*_component_heading(entry), "", *table(rows(entry))]
    lines += [
        "",
        "### Compressors",
        "",
        "`compressors=[ComponentRef(name=..., params={...}), ...]`: each compressor's `Params` "
        "model; unknown keys are errors.",
    ]
    for entry in _builtin("compressor"):
        params = entry.factory.Params
        lines += [*_component_heading(entry), "", f"`{params.__module__}.{params.__name__}`:"]
        lines += ["", *table(model_rows(params))]
    lines += [
        "",
        "### Augmentations",
        "",
        "`recipe.augmentations=[ComponentRef(name=..., params={...}), ...]`, applied in order "
        "in training only (contract in `ascbench/training/parts.py`).",
    ]
    for entry in _builtin("augmentation"):
        stage = getattr(entry.factory, "stage", "features")
        lines += [*_component_heading(entry), "", f"Stage: {stage}.", "", *table(rows(entry))]
    lines += [
        "",
        "### Learning-rate schedules",
        "",
        "`recipe.lr_schedule=ComponentRef(name=..., params={...})` (with `scheduler` `none`): "
        "a factor of `lr` as a function of the position in the report's epochs, run through in "
        "proportion when `ascbench run` shortens training.",
    ]
    for entry in _builtin("lr_schedule"):
        lines += [*_component_heading(entry), "", *table(rows(entry))]
    stale = sorted(set(meanings) - described)
    if stale:
        raise ReferenceError(f"{SCRIPT} describes components ascbench no longer has: {stale}")
    return lines


def block() -> str:
    """The guide's reference block, markers included."""
    from ascbench import systems

    begin, end = readme_block.markers(NAME)
    lines = [
        begin,
        f"<!-- generated by {SCRIPT} from the pydantic models in ascbench/systems.py and the "
        "built-in components' parameters; edit those, not this block -->",
        "",
        f"Types are as in Python; values are JSON-like (`null`, `true`, lists). {REQUIRED} "
        "marks a field without a default; constraints follow the type.",
        *model_section(systems.System),
        *model_section(systems.ComponentRef),
        *model_section(systems.TrainingRecipe),
        *_recipe_keys(),
        *model_section(systems.SpecAugment),
        *model_section(systems.Distillation),
        *model_section(systems.DeviceSpecific),
        *model_section(systems.EvaluationSettings),
        *_tta_keys(),
        *model_section(systems.ReportedResults),
        *_components(),
        end,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return readme_block.main(NAME, block, SCRIPT, argv, path=GUIDE)


if __name__ == "__main__":
    raise SystemExit(main())
