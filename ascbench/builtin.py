"""The components ascbench ships, registered through the same hooks as any plugin."""

from __future__ import annotations

from ascbench.components import Frontend
from ascbench.evaluation import builtin_evaluators
from ascbench.frontends.logmel import LogMel
from ascbench.hookspecs import hookimpl
from ascbench.rules import builtin_rulesets


@hookimpl
def register_rulesets():
    return builtin_rulesets()


@hookimpl
def register_frontends():
    return [
        Frontend(
            "logmel",
            LogMel,
            "Log-mel spectrogram (STFT, Slaney/HTK mel filters, dB or ln, optional deltas)",
        )
    ]


@hookimpl
def register_evaluators():
    return builtin_evaluators()
