"""One model per recording device (DCASE 2025): a general model and device-specific ones.

The 2025 rules let a system pick its model by the clip's device id, known at inference; the
complexity limits apply to each device's model, not to their sum. :class:`DeviceModels` holds
the general model (for devices it has no model of, including unseen and ``unknown`` ones) and
one model per named device; called with the batch's device ids it routes every clip to its
device's model. ``ascbench run`` builds one from a system's ``device_specific`` settings by
fine-tuning a copy of the trained general model on each device's training clips, as the 2025
baseline does (``train_device_specific.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

#: the key of the general model among :meth:`DeviceModels.members`
GENERAL = "general"


class DeviceModels(nn.Module):
    """A general model and device-specific models, routed by device id."""

    #: evaluation passes the batch's device ids to a model with this attribute
    routes_by_device = True

    def __init__(self, general: nn.Module, by_device: Mapping[str, nn.Module]) -> None:
        super().__init__()
        if GENERAL in by_device:
            raise ValueError(f"'{GENERAL}' names the general model, not a device")
        self.general = general
        self.by_device = nn.ModuleDict(dict(by_device))

    def model_for(self, device: str | None) -> nn.Module:
        """The model of ``device``; the general model for any other device."""
        return self.by_device[device] if device in self.by_device else self.general

    def members(self) -> dict[str, nn.Module]:
        """Every model by name: ``general`` first, then each device's."""
        return {GENERAL: self.general, **dict(self.by_device.items())}

    def forward(self, x: torch.Tensor, devices: Sequence[str] | None = None) -> torch.Tensor:
        if devices is None:
            return self.general(x)
        if len(devices) != x.shape[0]:
            raise ValueError(f"{x.shape[0]} clips but {len(devices)} device ids")
        rows: dict[str, list[int]] = {}
        for i, device in enumerate(devices):
            rows.setdefault(str(device), []).append(i)
        out: torch.Tensor | None = None
        for device, index in rows.items():
            part = self.model_for(device)(x[index])
            if out is None:
                out = part.new_empty((x.shape[0], *part.shape[1:]))
            out[index] = part
        assert out is not None
        return out


def forward_with_devices(model: nn.Module, x: torch.Tensor, devices: Sequence[str]):
    """``model(x)``, or ``model(x, devices)`` for a model that routes by device."""
    if getattr(model, "routes_by_device", False):
        return model(x, list(devices))
    return model(x)
