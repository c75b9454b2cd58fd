"""Fixtures for the data tests: tiny TAU-layout folders and a tiny synthetic dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascbench.data.synth import synthesize

from .helpers import TINY, build_tau


@pytest.fixture
def tau2022(tmp_path: Path) -> Path:
    return build_tau(tmp_path / "TAU-urban-acoustic-scenes-2022-mobile-development", "2022")


@pytest.fixture
def tau2020(tmp_path: Path) -> Path:
    return build_tau(tmp_path / "TAU-urban-acoustic-scenes-2020-mobile-development", "2020")


@pytest.fixture(scope="session")
def tiny_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny synthetic tau2022 dataset, generated once per test session."""
    return synthesize(tmp_path_factory.mktemp("synth") / "tiny", TINY)
