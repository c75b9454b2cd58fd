"""The components ascbench ships, registered through the same hooks as any plugin."""

from __future__ import annotations

from ascbench.components import (
    AugmentationEntry,
    CompressorEntry,
    FrontendEntry,
    LrScheduleEntry,
)
from ascbench.compressors import BUILTIN
from ascbench.evaluation import builtin_evaluators
from ascbench.frontends import LogMel, preset
from ascbench.hookspecs import hookimpl
from ascbench.rules import builtin_rulesets


@hookimpl
def register_rulesets():
    return builtin_rulesets()


@hookimpl
def register_frontends():
    return [
        FrontendEntry(
            "logmel",
            LogMel,
            "Log-mel spectrogram, librosa-exact (Slaney/HTK mel, dB/ln, top_db, deltas incl. "
            "valid crop, A-weighting, min-max)",
        ),
        FrontendEntry(
            "logmel-preset",
            preset,
            "LogMel with a named preset's settings (name=...) plus overrides",
        ),
    ]


@hookimpl
def register_evaluators():
    return builtin_evaluators()


@hookimpl
def register_compressors():
    return [CompressorEntry.of(factory) for factory in BUILTIN.values()]


@hookimpl
def register_augmentations():
    from ascbench.training.parts import BUILTIN_AUGMENTATIONS

    return [AugmentationEntry.of(factory) for factory in BUILTIN_AUGMENTATIONS]


@hookimpl
def register_lr_schedules():
    from ascbench.training.parts import BUILTIN_LR_SCHEDULES

    return [LrScheduleEntry.of(factory) for factory in BUILTIN_LR_SCHEDULES]
