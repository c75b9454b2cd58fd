"""Small models for the compressor tests (each runs in milliseconds)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

SHAPE = (1, 12, 16)  # (C, F, T) of one clip's features in these tests


def randomize_bn(model: nn.Module, seed: int = 0, var_range: tuple[float, float] = (0.5, 2.0)):
    """Give every batch norm non-trivial running statistics and affine parameters."""
    gen = torch.Generator().manual_seed(seed)
    lo, hi = var_range
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) * 2 - 1)
                m.running_var.copy_(torch.rand(n, generator=gen) * (hi - lo) + lo)
                if m.weight is not None:
                    m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    m.bias.copy_(torch.rand(n, generator=gen) - 0.5)
    return model


def batch(n: int = 4, shape=SHAPE, seed: int = 1) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


class ConvLinear(nn.Module):
    """Conv2d(1, 8, 3) -> ReLU -> global average -> Linear(8, 10): the int8 hand-count net."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))


class SepConv(nn.Module):
    """SP4ASC's block: 1x1 conv, two depthwise convs summed, one BN, ReLU, average pool."""

    def __init__(self, cin: int, cout: int, declare: bool = True) -> None:
        super().__init__()
        self.declare = declare
        self.ch_conv1 = nn.Conv2d(cin, cout, 1, bias=False)
        self.sp_conv1 = nn.Conv2d(
            cout, cout, (3, 1), padding=(2, 0), dilation=(2, 1), groups=cout, bias=False
        )
        self.sp_conv2 = nn.Conv2d(
            cout, cout, (1, 3), padding=(0, 2), dilation=(1, 2), groups=cout, bias=False
        )
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)

    def fold_pairs(self):
        if not self.declare:
            return []
        return [(("sp_conv1", "sp_conv2"), "bn")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ch_conv1(x)
        x = self.sp_conv1(x) + self.sp_conv2(x)
        return self.pool(self.relu(self.bn(x)))


class TinySP4ASC(nn.Module):
    """SP4ASC in miniature: BN over mel bins on the transposed input, two SepConv blocks."""

    def __init__(self, mels: int = SHAPE[1], declare: bool = True, num_classes: int = 10):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(mels)
        self.conv1 = SepConv(1, 8, declare)
        self.conv2 = SepConv(8, 16, declare)
        self.fc1 = nn.Linear(16, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, 1, F, T)
        x = self.bn0(x.transpose(1, 2)).transpose(1, 2)
        x = self.conv2(self.conv1(x))
        x = torch.mean(x, dim=2)
        x = torch.max(x, dim=2).values + torch.mean(x, dim=2)
        return self.fc2(self.relu(self.fc1(x)))


class Untraceable(nn.Module):
    """conv -> BN with data-dependent control flow (torch.fx cannot trace it), declaring its
    pair; the batch norm is created before the convolution, so module order says nothing."""

    def __init__(self, declare: bool = True) -> None:
        super().__init__()
        self.declare = declare
        self.bn = nn.BatchNorm2d(6)
        self.head = nn.Linear(6, 10)
        self.conv = nn.Conv2d(1, 6, 3, padding=1)

    def fold_pairs(self):
        return [("conv", "bn")] if self.declare else []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(self.conv(x))
        if float(y.detach().sum()) > 1e9:  # data-dependent: breaks symbolic tracing
            y = y * 0
        return self.head(torch.relu(y).mean(dim=(2, 3)))


class SkipAroundBN(nn.Module):
    """The conv output feeds the BN and a skip connection: folding into the conv is wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        z = self.bn(y) + y
        return self.fc(z.mean(dim=(2, 3)))


class LinearOnSequence(nn.Module):
    """Linear over the last axis then BatchNorm1d over axis 1 of a 3-D tensor: not a pair."""

    def __init__(self, n: int = SHAPE[1]) -> None:
        super().__init__()
        self.lin = nn.Linear(SHAPE[2], n)
        self.bn = nn.BatchNorm1d(n)
        self.fc = nn.Linear(n, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 1, F, T) -> (B, F, T)
        y = self.bn(self.lin(x.squeeze(1)))
        return self.fc(y.mean(dim=2))


class ConvBNReLUNet(nn.Module):
    """Two conv-BN-ReLU stages in an nn.Sequential, a max over time, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(16 * (SHAPE[1] // 4), 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.max(x, dim=3).values
        return self.fc(x.flatten(1))


class FunctionalAdd(nn.Module):
    """A residual `x + conv(x)`: fine in FX mode, not in eager int8 mode."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv0(x)
        y = y + self.conv1(y)
        return self.fc(y.mean(dim=(2, 3)))


def calibration(n_batches: int = 4, seed: int = 10) -> list[torch.Tensor]:
    return [batch(8, seed=seed + i) for i in range(n_batches)]


class DeclaredFusion(nn.Module):
    """Shape-dependent control flow (not traceable) with a declared conv+ReLU fuse group and
    an input batch norm over the single channel."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(1)
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 10)

    def fuse_groups(self):
        return [["conv", "act"]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv(self.norm(x)))
        if y.shape[0] > 0:  # a Python bool from a traced shape: breaks symbolic tracing
            y = y.mean(dim=(2, 3))
        return self.fc(y)
