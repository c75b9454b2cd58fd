"""A third-party-style plugin with a GRN layer (ConvNeXt V2): parameters used only in
functional ops, as a CP-Mobile-like plugin writes it (issue 17)."""

import torch
from torch import nn

from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import ComponentRef, TrainingRecipe


class GRN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Net(nn.Module):
    def __init__(self, input_shape=(1, 256, 64), num_classes=10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.grn = GRN(16)
        self.head = nn.Conv2d(16, num_classes, 1)

    def forward(self, x):
        return self.head(self.grn(self.conv(x))).mean((2, 3))


def grn_net(input_shape=(1, 256, 64), num_classes=10, **kw):
    return Net(input_shape, num_classes)


@hookimpl
def register_models():
    return [ModelEntry.of(grn_net, "GRN test")]


@hookimpl
def register_systems():
    return [
        System(
            name="grn_sys",
            title="GRN",
            report="none",
            challenge="dcase2023",
            frontend=ComponentRef(name="logmel-preset", params={"name": "cpmobile"}),
            model=ComponentRef(name="grn_net"),
            recipe=TrainingRecipe(epochs=1),
            compressors=[ComponentRef(name="int8_static")],
        )
    ]
