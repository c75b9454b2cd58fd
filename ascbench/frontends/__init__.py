"""Feature extractors: waveform (batch, samples) -> features (batch, channels, freq, time)."""

from ascbench.frontends.base import FeatureExtractor
from ascbench.frontends.logmel import LogMel, mel_filterbank

__all__ = ["FeatureExtractor", "LogMel", "mel_filterbank"]
