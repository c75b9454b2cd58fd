"""Rule sets as data: files, validation, limit checks."""

from __future__ import annotations

import pytest

from ascbench.errors import RuleSetError
from ascbench.plugins import load_registry
from ascbench.rules import Limit, load_ruleset_file

VALID_TOML = """
name = "mini"
title = "A tighter test rule set"
dataset = "synthetic"
clip_seconds = 1.0
kilobyte = 1024

[parameters]
count_zeros = true
storage_dtype = "float16"

[macs]
name = "nessi-torch"
reference = "test"
bias = true
batch_norm = "per_channel"
linear = "batch_only"
pooling = "none"

[[limits]]
quantity = "bytes"
maximum = 65536
"""


def test_builtin_rulesets_state_their_conventions():
    registry = load_registry(entry_points=False, environment=False)
    r21, r22 = registry.ruleset("dcase2021"), registry.ruleset("dcase2022")
    assert (r21.clip_seconds, r22.clip_seconds) == (10.0, 1.0)
    assert r21.parameters.counted_buffers == ["running_mean", "running_var"]
    assert not r21.parameters.count_zeros and r22.parameters.count_zeros
    assert r22.parameters.storage_dtype == "int8" and r21.parameters.storage_dtype is None
    assert [(lim.quantity, lim.maximum) for lim in r22.limits] == [
        ("parameters", 128_000),
        ("macs", 30_000_000),
    ]
    assert r21.limits[0].ambiguous_up_to == 131_072
    assert r21.kilobyte == 1000


def test_limits_are_inclusive_and_flag_the_kib_margin():
    limit = Limit(quantity="bytes", maximum=128_000, ambiguous_up_to=131_072)
    assert limit.check(128_000).status == "pass"
    assert limit.check(128_001).status == "ambiguous"
    assert limit.check(131_073).status == "fail"
    assert Limit(quantity="macs", maximum=10, inclusive=False).check(10).status == "fail"


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_user_rule_set_files(tmp_path, suffix):
    import json

    import tomllib
    import yaml

    data = tomllib.loads(VALID_TOML)
    text = {".toml": VALID_TOML, ".yaml": yaml.safe_dump(data), ".json": json.dumps(data)}[suffix]
    path = tmp_path / f"mini{suffix}"
    path.write_text(text)
    rs = load_ruleset_file(path)
    assert rs.name == "mini" and rs.limits[0].maximum == 65536 and rs.source == str(path)
    registry = load_registry(entry_points=False, environment=False)
    assert registry.ruleset(str(path)).name == "mini"


@pytest.mark.parametrize(
    "text,message",
    [
        ('name = "x"\ntitle = ', "not valid TOML"),
        (VALID_TOML.replace("kilobyte = 1024", "kilobyte = 1000\nkilobytes = 3"), "kilobytes"),
        (VALID_TOML.replace("maximum = 65536", "maximum = -1"), "limits.0.maximum"),
        (VALID_TOML.replace('storage_dtype = "float16"', 'storage_dtype = "float13"'), "float13"),
        (VALID_TOML.replace('quantity = "bytes"', 'quantity = "flops"'), "limits.0.quantity"),
    ],
)
def test_malformed_rule_set_files_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RuleSetError) as err:
        load_ruleset_file(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_rule_set_name_and_missing_file():
    registry = load_registry(entry_points=False, environment=False)
    with pytest.raises(RuleSetError, match="unknown ruleset 'dcase2019'.*registered: dcase2021"):
        registry.ruleset("dcase2019")
    with pytest.raises(RuleSetError, match="not found"):
        registry.ruleset("nowhere/rules.toml")


def test_a_nonzero_verdict_on_untrained_weights_is_provisional_only_where_it_can_flip():
    """Under a non-zero-counting rule set (dcase2021: 128 KB of non-zero values), a limit
    passed on untrained weights is provisional when every value non-zero would break it."""
    from types import SimpleNamespace

    from ascbench.profiling import provisional_verdict
    from ascbench.rules import builtin_rulesets

    rules = {r.name: r for r in builtin_rulesets()}
    close = SimpleNamespace(parameters=66_130, nonzero_parameters=62_346, bytes=124_692)
    note = provisional_verdict(close, rules["dcase2021"])
    assert note.startswith("provisional verdict: bytes 124,692 passes 128,000 on these weights")
    assert "about 132,260 with every value non-zero" in note
    roomy = SimpleNamespace(parameters=50_000, nonzero_parameters=45_000, bytes=90_000)
    assert provisional_verdict(roomy, rules["dcase2021"]) is None
    assert provisional_verdict(close, rules["dcase2022"]) is None  # zeros counted there
