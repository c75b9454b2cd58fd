"""CP-Mobile (CP-JKU), the network family shared by the DCASE 2023 Task 1 system of Schmid et
al. (``ascbench_schmid2023.cp_mobile``) and the DCASE 2024/2025 Task 1 baseline
(``ascbench_dcase_baselines.cpmobile_baseline``, the same network without GRN).

A stem of two 3x3 stride-2 convolutions (``in_channels`` -> base/4 -> base), stages of inverted
bottleneck blocks with ``base * channels_multiplier**k`` channels (rounded to multiples of 8)
and a head of a 1x1 convolution to the classes, batch norm and global average pooling. A block
is a 1x1 expansion (``expansion_rate``, rounded to a multiple of 8), a 3x3 depthwise
convolution carrying the block's stride, and a 1x1 projection, each with batch norm (ReLU after
the first two); the shortcut (identity, or a 3x3 average pool where the block has a stride;
none where the channel count changes) is added, then optionally Global Response Normalisation,
then ReLU. No convolution has a bias. Blocks are numbered across the stages from 1 and named
``b<k>``; ``strides`` maps such names to (mel, time) strides.

Module names are the upstream ones (``in_c.0.0.weight``, ``stages.s1.b1.block.1.0.weight``,
``stages.s1.b2.after_block_norm.gamma``, ``feed_forward.0.weight``), so the authors' and the
organisers' state dicts load with strict keys. Every convolution is initialised Kaiming-normal
(fan-out) in module order after construction; batch norm keeps its default (weight 1, bias 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), one
    step up where rounding down lost more than 10 % (MobileNet's rule)."""
    result = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return result + divisor if result < 0.9 * value else result


class ConvNormActivation(nn.Sequential):
    """``0``: convolution without bias (padding keeps the size at stride 1), ``1``: batch
    norm, ``2``: ReLU unless ``activation=False``."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride=1, groups: int = 1,
                 activation: bool = True) -> None:  # fmt: skip
        conv = nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False)
        super().__init__(conv, nn.BatchNorm2d(cout), *([nn.ReLU()] if activation else []))


class GRN(nn.Module):
    """Global Response Normalisation (ConvNeXt V2) with scalar ``gamma`` and ``beta``: the L2
    norm of each channel over (mel, time), divided by its mean over the channels, scales the
    input: ``gamma * x * nx + beta + x``. Both start at zero (the identity)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.linalg.vector_norm(x, 2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class CPMobileBlock(nn.Module):
    """1x1 expand, 3x3 depthwise (with the block's stride), 1x1 project; the shortcut where the
    channel count is kept; GRN after the sum when ``grn``; ReLU."""

    def __init__(self, cin: int, cout: int, expansion_rate: float, stride=(1, 1),
                 grn: bool = True) -> None:  # fmt: skip
        super().__init__()
        hidden = make_divisible(cin * expansion_rate)
        self.block = nn.Sequential(
            ConvNormActivation(cin, hidden),
            ConvNormActivation(hidden, hidden, 3, stride, groups=hidden),
            ConvNormActivation(hidden, cout, activation=False),
        )
        strided = tuple(stride) != (1, 1)
        # keys as upstream: the pooled shortcut is Sequential(AvgPool2d, Sequential())
        pool = [nn.AvgPool2d(3, stride, padding=1), nn.Sequential()] if strided else []
        self.shortcut = nn.Sequential(*pool) if cin == cout else None
        self.after_block_norm = GRN() if grn else None
        self.after_block_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        if self.after_block_norm is not None:
            y = self.after_block_norm(y)
        return self.after_block_activation(y)


class CPMobile(nn.Module):
    """The network; ``blocks_per_stage[k]`` blocks in stage ``s<k+1>``, ``strides`` by block
    name (``"b<k>"``, numbered across the stages from 1; others stride 1), ``grn``: GRN after
    each block's sum. The plugins hold each published configuration's values."""

    def __init__(
        self,
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        base_channels: int = 32,
        channels_multiplier: float,
        expansion_rate: float,
        blocks_per_stage: Sequence[int] = (3, 2, 1),
        strides: Mapping[str, tuple[int, int]],
        grn: bool,
    ) -> None:
        super().__init__()
        base = make_divisible(base_channels)
        width = [base] + [
            make_divisible(base * channels_multiplier**i) for i in range(len(blocks_per_stage))
        ]
        self.in_c = nn.Sequential(
            ConvNormActivation(in_channels, width[0] // 4, 3, 2),
            ConvNormActivation(width[0] // 4, width[0], 3, 2),
        )
        self.stages = nn.Sequential()
        number = 0
        for stage, count in enumerate(blocks_per_stage):
            blocks = nn.Sequential()
            for i in range(count):
                number += 1
                name = f"b{number}"
                cin = width[stage] if i == 0 else width[stage + 1]
                stride = strides.get(name, (1, 1))
                blocks.add_module(
                    name, CPMobileBlock(cin, width[stage + 1], expansion_rate, stride, grn)
                )
            self.stages.add_module(f"s{stage + 1}", blocks)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(width[-1], num_classes, 1, bias=False),
            nn.BatchNorm2d(num_classes),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feed_forward(self.stages(self.in_c(x))).flatten(1)
