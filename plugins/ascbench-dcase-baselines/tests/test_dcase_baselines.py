"""The baseline systems measure exactly what the official counters give (notes §6.1-6.2)."""

from __future__ import annotations

import pytest

from ascbench.plugins import load_registry
from ascbench.profiling import profile_system


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "dcase_baselines"]
    assert info.origin == "entry point" and info.distribution == "ascbench-dcase-baselines"
    assert info.registered == {
        "model": ["dcase_baseline_cnn", "dcase2024_baseline_cnn"],
        "system": [
            "dcase2021_baseline", "dcase2022_baseline", "dcase2024_baseline",
            "dcase2025_baseline", "dcase2025_baseline_per_device",
        ],
    }


def test_dcase2022_baseline_under_dcase2022(registry):
    profile = profile_system(
        registry, registry.system("dcase2022_baseline"), registry.ruleset("dcase2022")
    )
    first, last = profile.stages[0], profile.stages[-1]
    assert (first.name, first.parameters, first.macs) == ("uncompressed", 46_118, 29_271_638)
    c = profile.complexity
    assert c.input_shape == [1, 1, 40, 51]
    # int8_static fuses conv+BN: the 128 BN values and their 128 MACs go, as in the TFLite model
    assert last.name == "int8_static"
    assert (c.parameters, c.macs) == (45_990, 29_271_638 - 128)
    assert c.values_by_dtype == {"qint8": 45_816, "float32": 174}
    assert profile.status == "pass"


def test_dcase2021_baseline_under_dcase2021(registry):
    profile = profile_system(
        registry, registry.system("dcase2021_baseline"), registry.ruleset("dcase2021")
    )
    first = profile.stages[0]
    assert (first.parameters, first.macs) == (46_246, 287_303_638)  # Keras-style, unfolded
    c = profile.complexity
    assert c.input_shape == [1, 1, 40, 500]
    # the TFLite fp16 route: BN folded, 45,990 values in fp16 (the 2021 tool's 91,980 B)
    assert c.parameters == 45_990 and c.values_by_dtype == {"float16": 45_990}
    assert c.bytes == 2 * c.nonzero_parameters <= 91_980
    assert profile.status == "pass"


def test_2021_system_measured_on_one_second_clips_shrinks_its_pooling(registry):
    profile = profile_system(
        registry, registry.system("dcase2021_baseline"), registry.ruleset("dcase2022")
    )
    assert profile.status == "pass"
    assert profile.complexity.input_shape == [1, 1, 40, 51]


def test_reported_numbers_are_kept_beside_the_system(registry):
    reported = registry.system("dcase2022_baseline").reported
    assert (reported.accuracy, reported.log_loss, reported.macs) == (42.9, 1.575, 29_234_920)
    assert reported.class_wise["street_traffic"] == {"log_loss": 1.025, "accuracy": 70.6}
    assert reported.device_wise["s6"] == {"log_loss": 1.931}
