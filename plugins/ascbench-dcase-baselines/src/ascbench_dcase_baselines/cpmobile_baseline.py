"""The DCASE 2024/2025 Task 1 baseline: a simplified CP-Mobile (CP-JKU), re-written from its
architecture.

Facts (CPJKU/dcase2024_task1_baseline, ``models/baseline.py``; ../shared/notes/dcase-rules.md
§6.3): input 1 x 256 x 65 (256 mels, 65 frames of a 1-s clip); two 3x3 stride-2 convolutions
with batch norm and ReLU (1 -> 8 -> 32 channels); three stages of 3, 2 and 1 inverted-bottleneck
blocks (1x1 expand + BN + ReLU, 3x3 depthwise + BN + ReLU, 1x1 project + BN, then a shortcut
where the channel count is kept and ReLU after the sum) with channels 32, 56 and 104 (base 32,
multiplier 1.8, each rounded to a multiple of 8) and an expansion rate of 2.1; strides
(1, 2) in block 3 and (2, 1) in block 4, a shortcut with a stride averages over 3x3; the head is
a 1x1 convolution to the classes, batch norm and global average pooling. No convolution has a
bias. 61,148 parameters and 29,419,156 MACs (torchinfo, batch 1).

Module names follow the original's layout (``in_c.0.0.weight``, ``stages.s1.b1.block.0.1``,
``feed_forward.0``), so a state dict saved by the organisers' code loads with strict keys.
"""

from __future__ import annotations

import torch
from torch import nn

from ascbench.checkpoints import load_weights

#: Blocks (numbered across stages from 1) that downsample, and their (freq, time) strides.
STRIDES: dict[int, tuple[int, int]] = {3: (1, 2), 4: (2, 1)}


def round_channels(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), one
    step up where rounding lost more than 10 % (MobileNet's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn(
    cin: int, cout: int, kernel: int = 1, stride: tuple[int, int] | int = 1, groups: int = 1,
    relu: bool = True,
) -> nn.Sequential:  # fmt: skip
    """Convolution without bias, batch norm and (optionally) ReLU, as keys 0, 1, 2."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class InvertedBottleneck(nn.Module):
    """1x1 expand, 3x3 depthwise (with the block's stride), 1x1 project; a shortcut when the
    channel count is kept (averaged over 3x3 when the block has a stride); ReLU after the sum."""

    def __init__(self, cin: int, cout: int, expansion: float, stride: tuple[int, int]) -> None:
        super().__init__()
        hidden = round_channels(cin * expansion)
        self.block = nn.Sequential(
            conv_bn(cin, hidden),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            conv_bn(hidden, cout, relu=False),
        )
        self.use_shortcut = cin == cout
        if self.use_shortcut and tuple(stride) != (1, 1):
            self.shortcut: nn.Module = nn.Sequential(
                nn.AvgPool2d(3, stride, padding=1), nn.Sequential()
            )
        else:
            self.shortcut = nn.Sequential()
        self.after_block_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if self.use_shortcut:
            y = y + self.shortcut(x)
        return self.after_block_activation(y)


class CPMobileBaseline(nn.Module):
    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        base_channels: int = 32,
        channels_multiplier: float = 1.8,
        expansion_rate: float = 2.1,
        blocks_per_stage: tuple[int, ...] = (3, 2, 1),
    ) -> None:
        super().__init__()
        base = round_channels(base_channels)
        widths = [base] + [
            round_channels(base * channels_multiplier**stage)
            for stage in range(len(blocks_per_stage))
        ]
        self.in_c = nn.Sequential(
            conv_bn(in_channels, widths[0] // 4, 3, 2), conv_bn(widths[0] // 4, widths[0], 3, 2)
        )
        self.stages = nn.Sequential()
        number = 0
        for stage, count in enumerate(blocks_per_stage):
            blocks = nn.Sequential()
            cin = widths[stage]
            for _ in range(count):
                number += 1
                stride = STRIDES.get(number, (1, 1))
                blocks.add_module(
                    f"b{number}",
                    InvertedBottleneck(cin, widths[stage + 1], expansion_rate, stride),
                )
                cin = widths[stage + 1]
            self.stages.add_module(f"s{stage + 1}", blocks)
        self.feed_forward = nn.Sequential(
            nn.Conv2d(widths[-1], num_classes, 1, bias=False),
            nn.BatchNorm2d(num_classes),
            nn.AdaptiveAvgPool2d((1, 1)),
        )
        self.apply(_initialise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.feed_forward(self.stages(self.in_c(x)))
        return x.flatten(1)


def _initialise(module: nn.Module) -> None:
    """Kaiming-normal (fan-out) convolutions; batch norm at weight 1, bias 0."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def dcase2024_baseline_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 256, 65),
    weights: str | None = None,
    **sizes,
) -> CPMobileBaseline:
    """The DCASE 2024/2025 baseline network; ``weights``: a state dict file to load (strict
    keys; a Lightning checkpoint's ``state_dict`` with its ``model.`` prefix also works)."""
    model = CPMobileBaseline(num_classes=num_classes, in_channels=int(input_shape[0]), **sizes)
    if weights:
        load_weights(model, weights, prefix="model.", what="the DCASE 2024 baseline network")
    return model
