"""CP-Mobile: the network of CP-JKU's top-ranked DCASE 2023 Task 1 system, re-written from its
architecture (facts: ../shared/weights/cpmobile/README.md; fschmid56/cpjku_dcase23
``models/cp_mobile_clean.py``).

Input ``(batch, 1, 256, 64)`` (256 mels, 64 frames of a 1-s clip). A stem of two 3x3 stride-2
convolutions (1 -> 8 -> 32 channels), three stages of 3, 2 and 1 blocks with 32, 72 and 168
channels (base 32 times 2.3 per stage, rounded to multiples of 8), and a head of a 1x1
convolution to the classes, batch norm and global average pooling. A block is a 1x1 expansion
(3x, rounded to a multiple of 8), a 3x3 depthwise convolution carrying the block's stride, and a
1x1 projection, each with batch norm (ReLU after the first two); the sum with the shortcut
(identity, or a 3x3 average pool where the block has a stride; none where the channel count
changes) goes through Global Response Normalisation with one scalar gamma and beta, then ReLU.
No convolution has a bias. 126,952 parameters and 28,893,268 MACs by the authors' counter
(torchinfo: GRN counts its 2 parameters and no MACs).

Module names follow the original's, so the released Lightning checkpoint loads with strict keys
once its ``model.`` prefix is stripped.
"""

from __future__ import annotations

import torch
from torch import nn

from ascbench.checkpoints import load_weights

#: Blocks (numbered across the stages from 1) with a stride, as (mel, time).
STRIDES: dict[str, tuple[int, int]] = {"b2": (2, 2), "b4": (2, 1)}


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor`` (at least ``divisor``), one step up where
    rounding down lost more than 10 %."""
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
    def __init__(self, cin: int, cout: int, expansion_rate: float, stride) -> None:
        super().__init__()
        hidden = make_divisible(cin * expansion_rate)
        self.block = nn.Sequential(
            ConvNormActivation(cin, hidden),
            ConvNormActivation(hidden, hidden, 3, stride, groups=hidden),
            ConvNormActivation(hidden, cout, activation=False),
        )
        self.use_shortcut = cin == cout
        strided = tuple(stride) != (1, 1)
        # keys as upstream: the pooled shortcut is Sequential(AvgPool2d, Sequential())
        pool = [nn.AvgPool2d(3, stride, padding=1), nn.Sequential()] if strided else []
        self.shortcut = nn.Sequential(*pool) if self.use_shortcut else None
        self.after_block_norm = GRN()
        self.after_block_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.after_block_activation(self.after_block_norm(y))


class CPMobile(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, base_channels: int = 32,
                 channels_multiplier: float = 2.3, expansion_rate: float = 3.0,
                 n_blocks: tuple[int, ...] = (3, 2, 1),
                 strides: dict[str, tuple[int, int]] | None = None) -> None:  # fmt: skip
        super().__init__()
        strides = STRIDES if strides is None else strides
        base = make_divisible(base_channels)
        width = [base] + [
            make_divisible(base * channels_multiplier**i) for i in range(len(n_blocks))
        ]
        self.in_c = nn.Sequential(
            ConvNormActivation(in_channels, width[0] // 4, 3, 2),
            ConvNormActivation(width[0] // 4, width[0], 3, 2),
        )
        self.stages = nn.Sequential()
        number = 0
        for stage, count in enumerate(n_blocks):
            blocks = nn.Sequential()
            for i in range(count):
                number += 1
                name = f"b{number}"
                cin = width[stage] if i == 0 else width[stage + 1]
                stride = strides.get(name, (1, 1))
                blocks.add_module(
                    name, CPMobileBlock(cin, width[stage + 1], expansion_rate, stride)
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


def cp_mobile(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 256, 64),
    weights: str | None = None,
    **sizes,
) -> CPMobile:
    """CP-Mobile (defaults: the submitted 127 K size); ``weights``: a state dict file or the
    released Lightning checkpoint (``model.`` prefix stripped, strict keys)."""
    model = CPMobile(num_classes=num_classes, in_channels=int(input_shape[0]), **sizes)
    if weights:
        load_weights(model, weights, prefix="model.", what="CP-Mobile")
    return model
