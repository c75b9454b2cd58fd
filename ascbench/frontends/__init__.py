"""Feature extractors: waveform (batch, samples) -> features (batch, channels, freq, time)."""

from ascbench.frontends.base import FeatureExtractor, FrontendError
from ascbench.frontends.deltas import delta, stack_deltas
from ascbench.frontends.logmel import LogMel, power_to_db
from ascbench.frontends.melscale import hz_to_mel, mel_filterbank, mel_to_hz
from ascbench.frontends.normalize import Standardize, StandardizedFrontend, fit_standardizer
from ascbench.frontends.presets import PRESETS, preset
from ascbench.frontends.weighting import a_weighting

__all__ = [
    "PRESETS",
    "FeatureExtractor",
    "FrontendError",
    "LogMel",
    "Standardize",
    "StandardizedFrontend",
    "a_weighting",
    "delta",
    "fit_standardizer",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "power_to_db",
    "preset",
    "stack_deltas",
]
