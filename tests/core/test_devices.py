"""One model per recording device (DCASE 2025): routing by device id."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def test_device_models_route_each_clip_to_its_devices_model():
    from ascbench.devices import DeviceModels

    class Constant(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = nn.Parameter(torch.tensor(float(value)))

        def forward(self, x):
            return self.value.expand(x.shape[0], 3)

    model = DeviceModels(Constant(0), {"a": Constant(1), "s1": Constant(2)})
    out = model(torch.zeros(4, 1, 2, 2), ["a", "s4", "s1", "unknown"])
    assert out[:, 0].tolist() == [1.0, 0.0, 2.0, 0.0]
    assert model(torch.zeros(2, 1, 2, 2))[:, 0].tolist() == [0.0, 0.0]  # no devices: general
    assert list(model.members()) == ["general", "a", "s1"]
    with pytest.raises(ValueError, match="'general' names the general model"):
        DeviceModels(Constant(0), {"general": Constant(1)})
