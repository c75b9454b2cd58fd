"""Deepsound's MBConv network (Verbitskiy & Vyshegorodtsev, DCASE 2021 Task 1A) in PyTorch.

The report gives the layout (Table 1), the block structure (Fig. 1, Fig. 2, Table 5) and the
parameter count of every layer (Table 6). The conventions below reproduce every Table 6 row:

- batch norm has 2 parameters per channel (gamma, beta); running statistics are buffers;
- the stem 5x3 convolution and the final 1x1 convolution have a bias, no other conv has one;
- squeeze-and-excitation (SE) squeezes to floor(I / 4) channels, I being the *block input*
  width (not the expanded 4I); its two 1x1 convolutions have biases, swish inside, sigmoid gate;
- expansion factor 4; Fused-MBConv4 carries SE too (unlike torchvision's EfficientNetV2);
- every block adds a residual; when I != O the shortcut is a bias-free 1x1 convolution with the
  block's stride and no batch norm (Table 5, "Conv2dShortcut H(I, O)").

The report works on (time, frequency) inputs and gives kernels and strides as (T, F). ascbench
frontends produce ``(batch, channels, freq, time)``, so every kernel and stride is transposed
here: the report's 5x3 stem kernel is (3, 5) and its 2x1 stride is (1, 2) in (F, T) order.
The softmax is left to the loss (logits out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

#: Table 1, after the stem: (block type, repeats, stride (T, F) of the first block, channels).
STAGES: tuple[tuple[str, int, tuple[int, int], int], ...] = (
    ("fused", 2, (2, 2), 12),
    ("mbconv", 3, (2, 1), 18),
    ("mbconv", 3, (2, 2), 24),
    ("mbconv", 2, (2, 2), 30),
)


def _ft(stride_tf: Sequence[int]) -> tuple[int, int]:
    """A (time, frequency) pair of the report as (frequency, time) for ascbench tensors."""
    t, f = stride_tf
    return int(f), int(t)


class SqueezeExcite(nn.Module):
    """SE block (Hu et al., Fig. 2 of the report): global average pool, 1x1 conv to
    ``squeeze`` channels (with bias), swish, 1x1 conv back (with bias), sigmoid, rescale."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        if squeeze < 1:
            raise ValueError(f"SE squeeze width must be at least 1, got {squeeze}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = nn.SiLU()
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class MBConv(nn.Module):
    """MBConv4(I, O) or Fused-MBConv4(I, O) with SE and a residual in every block.

    MBConv: 1x1 I->eI + BN + swish, depthwise 3x3 (stride) + BN + swish, SE, 1x1 eI->O + BN.
    Fused-MBConv: 3x3 I->eI (stride) + BN + swish, SE, 1x1 eI->O + BN.
    ``stride`` is in (F, T) order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: tuple[int, int] = (1, 1),
        *,
        fused: bool = False,
        expansion: int = 4,
        se_ratio: float = 0.25,
    ) -> None:
        super().__init__()
        stride = (int(stride[0]), int(stride[1]))
        if in_channels == out_channels and stride != (1, 1):
            raise ValueError("a strided block needs I != O (the 1x1 shortcut conv) in this design")
        hidden = expansion * in_channels
        self.fused = fused
        if fused:
            self.expand = nn.Conv2d(in_channels, hidden, 3, stride, padding=1, bias=False)
        else:
            self.expand = nn.Conv2d(in_channels, hidden, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(hidden)
        self.expand_act = nn.SiLU()
        if fused:
            self.depthwise = self.depthwise_bn = self.depthwise_act = None
        else:
            self.depthwise = nn.Conv2d(
                hidden, hidden, 3, stride, padding=1, groups=hidden, bias=False
            )
            self.depthwise_bn = nn.BatchNorm2d(hidden)
            self.depthwise_act = nn.SiLU()
        self.se = SqueezeExcite(hidden, math.floor(se_ratio * in_channels))
        self.project = nn.Conv2d(hidden, out_channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(out_channels)
        # Table 5: H(I, O) = I*O parameters when I != O, else an identity (no module). A strided
        # block's shortcut is a 1x1 conv of stride s; it is computed as its equal, every s-th
        # row and column then a 1x1 conv of stride 1 (same weights, same MACs), because the
        # weight gradient of a strided 1x1 conv in channels-last layout corrupts the heap in
        # torch 2.13's oneDNN (segfault), and channels-last makes these steps 1.5x faster.
        self.shortcut = (
            nn.Conv2d(in_channels, out_channels, 1, bias=False)
            if in_channels != out_channels
            else None
        )
        self.shortcut_stride = stride

    def fold_pairs(self) -> list[tuple[str, str]]:
        """conv -> batch norm pairs for ascbench's ``fold_batchnorm`` compressor."""
        pairs = [("expand", "expand_bn"), ("project", "project_bn")]
        if not self.fused:
            pairs.insert(1, ("depthwise", "depthwise_bn"))
        return pairs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand_act(self.expand_bn(self.expand(x)))
        if self.depthwise is not None:
            y = self.depthwise_act(self.depthwise_bn(self.depthwise(y)))
        y = self.project_bn(self.project(self.se(y)))
        if self.shortcut is None:
            return y + x
        f, t = self.shortcut_stride
        return y + self.shortcut(x[:, :, ::f, ::t] if (f, t) != (1, 1) else x)


class DeepsoundMBConvNet(nn.Module):
    """Table 1: input BN over frequency, 5x3 stem, 2 Fused-MBConv4 + 8 MBConv4, 1x1 conv to 100,
    global pooling (mean over frequency, then max + mean over time), FC to the classes."""

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 160, 640),
        stem_channels: int = 6,
        stages: Sequence[tuple[str, int, tuple[int, int], int]] = STAGES,
        head_channels: int = 100,
        expansion: int = 4,
        se_ratio: float = 0.25,
    ) -> None:
        super().__init__()
        channels, freq, _ = input_shape
        # Batch norm over the mel bins replaces data standardisation (report §2.3).
        self.input_bn = nn.BatchNorm2d(freq)
        self.stem = nn.Conv2d(channels, stem_channels, (3, 5), padding=(1, 2))
        self.stem_bn = nn.BatchNorm2d(stem_channels)
        self.stem_act = nn.SiLU()
        blocks: list[nn.Module] = []
        width = stem_channels
        for kind, repeats, stride_tf, out in stages:
            if kind not in ("fused", "mbconv"):
                raise ValueError(f"unknown block type {kind!r}; use 'fused' or 'mbconv'")
            for i in range(repeats):
                stride = _ft(stride_tf) if i == 0 else (1, 1)
                blocks.append(
                    MBConv(
                        width,
                        out,
                        stride,
                        fused=kind == "fused",
                        expansion=expansion,
                        se_ratio=se_ratio,
                    )
                )
                width = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Conv2d(width, head_channels, 1)
        self.head_bn = nn.BatchNorm2d(head_channels)
        self.head_act = nn.SiLU()
        self.fc = nn.Linear(head_channels, num_classes)

    def fold_pairs(self) -> list[tuple[str | None, str]]:
        """conv -> batch norm pairs; the input BN (over mel bins) folds to an Affine layer."""
        return [(None, "input_bn"), ("stem", "stem_bn"), ("head", "head_bn")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_bn(x.transpose(1, 2)).transpose(1, 2)
        x = self.stem_act(self.stem_bn(self.stem(x)))
        x = self.blocks(x)
        x = self.head_act(self.head_bn(self.head(x)))
        x = x.mean(dim=2)  # over frequency -> (B, C, T)
        x = x.amax(dim=2) + x.mean(dim=2)  # PANNs-style max + average over time
        return self.fc(x)


def verbitskiy2021_mbconv(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] | list[int] = (1, 160, 640),
    stem_channels: int = 6,
    head_channels: int = 100,
    expansion: int = 4,
    se_ratio: float = 0.25,
) -> DeepsoundMBConvNet:
    """Factory registered as model ``verbitskiy2021_mbconv`` (Table 1 of the report)."""
    return DeepsoundMBConvNet(
        num_classes,
        tuple(input_shape),
        stem_channels=stem_channels,
        head_channels=head_channels,
        expansion=expansion,
        se_ratio=se_ratio,
    )
