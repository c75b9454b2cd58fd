"""Released weights into a model: what a mismatching file is told in one line."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ascbench.checkpoints import WeightsError, describe_mismatches, load_weights


def _net(width: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, width, 3), nn.BatchNorm2d(width))


def test_a_matching_state_dict_has_nothing_to_describe():
    assert describe_mismatches(_net().state_dict(), _net().state_dict()) == ""


def test_each_kind_of_mismatch_is_counted_with_its_first_key():
    own = _net().state_dict()
    state = _net(width=6).state_dict()
    del state["0.bias"]
    state["2.weight"] = torch.zeros(1)
    text = describe_mismatches(own, state)
    assert text == (
        "1 missing keys (first: 0.bias); 1 unexpected keys (first: 2.weight); "
        "5 shape mismatches (first: 0.weight (6, 1, 3, 3) in the file, (4, 1, 3, 3) in the model)"
    )


def test_load_weights_names_the_file_and_the_architecture(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in _net(6).state_dict().items()}}, path)
    with pytest.raises(WeightsError) as info:
        load_weights(_net(), path, prefix="model.", what="the test net")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: does not match the test net: 6 shape mismatches")


def test_load_weights_loads_a_prefixed_checkpoint_strictly(tmp_path):
    source = _net()
    path = tmp_path / "ok.pt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}}, path)
    target = _net()
    load_weights(target, path, prefix="model.")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)
