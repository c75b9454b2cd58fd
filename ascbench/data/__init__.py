"""Datasets: TAU Urban Acoustic Scenes layouts, plain labelled folders, and synthetic data."""

from ascbench.data.base import Clip, Dataset

__all__ = ["Clip", "Dataset"]
