"""Tiny models and data for the training tests (fast on two shared CPU cores)."""

from __future__ import annotations

import torch

from ascbench.scenes import DEVICES
from ascbench.training import TensorClips


def separable_clips(n: int, seed: int, noise: float = 1.0, shape=(1, 8, 16)) -> TensorClips:
    """``n`` clips of 10 classes: a fixed random prototype per class plus Gaussian noise."""
    protos = torch.randn(10, *shape, generator=torch.Generator().manual_seed(1234))
    g = torch.Generator().manual_seed(seed)
    labels = torch.randperm(n, generator=g) % 10
    x = protos[labels] + noise * torch.randn(n, *shape, generator=g)
    devices = [DEVICES[i % len(DEVICES)] for i in range(n)]
    return TensorClips(x, labels, devices, [f"audio/{seed}-{i}.wav" for i in range(n)])


class TinyNet(torch.nn.Module):
    """Conv + BN + ReLU + pooling + dropout + linear: every kind of layer the trainer touches."""

    def __init__(self, channels: int = 1, classes: int = 10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.AdaptiveAvgPool2d((2, 4))
        self.drop = torch.nn.Dropout(0.2)
        self.fc = torch.nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(self.drop(x.flatten(1)))


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
