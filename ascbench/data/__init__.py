"""Datasets: TAU Urban Acoustic Scenes layouts, plain labelled folders, and synthetic data.

Main entry points: :func:`load_dataset` (``--data PATH`` or the synthetic default),
:func:`default_dataset`, :func:`check_dataset`, :func:`load_tau`, :func:`load_folder`,
:func:`synthesize` and :func:`load_audio`.
"""

from ascbench.data.audio import AudioInfo, audio_info, load_audio
from ascbench.data.base import Clip, Dataset
from ascbench.data.checks import DataReport
from ascbench.data.folder import load_folder, scan_folder
from ascbench.data.loader import (
    check_dataset,
    default_dataset,
    ensure_synthetic,
    load_dataset,
    style_for,
)
from ascbench.data.synth import SynthConfig, synthesize
from ascbench.data.tau import load_tau, parent_of, parse_name, scan_tau

__all__ = [
    "AudioInfo",
    "Clip",
    "DataReport",
    "Dataset",
    "SynthConfig",
    "audio_info",
    "check_dataset",
    "default_dataset",
    "ensure_synthetic",
    "load_audio",
    "load_dataset",
    "load_folder",
    "load_tau",
    "parent_of",
    "parse_name",
    "scan_folder",
    "scan_tau",
    "style_for",
    "synthesize",
]
