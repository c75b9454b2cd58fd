"""The small reference networks of notes/dcase-rules.md §6.4-6.5, rebuilt for the tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3_bias():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1))


def conv3x3_nobias_bn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))


def pw_dw():
    return nn.Sequential(
        nn.Conv2d(1, 8, 1, bias=False), nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
    )


def conv_gap_linear():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )


def conv_relu_maxpool_avgpool():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2)
    )


def small_mobile():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )


class ResidualAddMulUpsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))

    def forward(self, x):
        y = self.c1(x)
        y = y + self.c2(y)
        y = y * self.scale
        return F.interpolate(y, scale_factor=2, mode="nearest")


class FunctionalConvLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 1, 3, 3))
        self.fcw = nn.Parameter(torch.randn(10, 8))

    def forward(self, x):
        y = F.conv2d(x, self.w, padding=1)
        return F.linear(y.mean(dim=(2, 3)), self.fcw)


class LinearOnBTF(nn.Module):
    def __init__(self, freq: int):
        super().__init__()
        self.fc = nn.Linear(freq, 16)

    def forward(self, x):
        b, _, f, t = x.shape
        return self.fc(x.reshape(b, f, t).transpose(1, 2)).mean(dim=1)


class GRUNet(nn.Module):
    def __init__(self, freq: int):
        super().__init__()
        self.gru = nn.GRU(freq, 16, batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        b, _, f, t = x.shape
        out, _ = self.gru(x.reshape(b, f, t).transpose(1, 2))
        return self.fc(out[:, -1])


class SharedConvTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.pw = nn.Conv2d(1, 8, 1, bias=False)
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv(self.conv(self.pw(x)))


class WithUnusedLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.unused = nn.Linear(100, 100)

    def forward(self, x):
        return self.conv(x)


def dcase2022_baseline(second_pool=(4, 10)):
    """The PyTorch re-creation of the DCASE 2022 baseline used for the official torch counts."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 7, padding=3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 16, 7, padding=3),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(5, 5),
        nn.Conv2d(16, 32, 7, padding=3),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(second_pool, second_pool),
        nn.Flatten(),
        nn.Linear(64, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
