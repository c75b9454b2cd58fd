"""Mini-SegNet (Shao et al., DCASE 2022 Task 1): ascbench's PROPOSAL sized to the report.

The report describes the layout but gives no widths, pool factors or head (its Fig. 1 is
missing from the text), so this is **not the authors' network**: it is the proposal of
notes/systems.md (004), sized so the teacher has 474,778 parameters (report: "474K") and the
half-width student 119,506 (report: 120.21K) under the torch convention.

What the text fixes, and this module follows:

- encoder Conv block 1: conv 2x3 -> mixup normalisation -> ReLU -> max-pool;
- encoder Conv block 2: 2 x (conv 2x3 -> batch norm -> ReLU -> max-pool);
- decoder DeConv block 1: up-sample -> conv -> BN -> ReLU -> conv -> BN -> ReLU;
- decoder DeConv block 2: up-sample -> conv -> mixup normalisation -> ReLU;
- two dense layers with dropout.

Assumed (labelled PROPOSAL): 2x2 max-pools and nearest 2x up-sampling; every conv 2x3
(2 along frequency, 3 along time) with bias and Keras-style 'same' zero padding (one extra row
at the high-frequency end for the even kernel); mixup normalisation = affine instance norm with
training-time statistic mixing (:class:`~ascbench_shao2022.mixup_norm.MixupNorm`); the head
averages over time, keeps the frequency axis, flattens (C x F/2) and applies
Dense(H) -> ReLU -> Dropout(0.5) -> Dense(classes).

Input ``(batch, 3, F=256, T=36)``: log-mel, delta and delta-delta. The parameter count does
not depend on T (the head averages time away); the input frequency size sets the head width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ascbench_shao2022.mixup_norm import MixupNorm

#: (c1, c2, c3, c4, c5) widths and dense width H of the proposal.
TEACHER_WIDTHS: tuple[int, ...] = (16, 48, 96, 48, 16)
TEACHER_HIDDEN = 192
STUDENT_WIDTHS: tuple[int, ...] = (8, 24, 48, 24, 8)
STUDENT_HIDDEN = 96


def conv2x3(in_channels: int, out_channels: int) -> nn.Sequential:
    """A 2x3 (frequency x time) conv with bias and Keras 'same' padding at stride 1."""
    return nn.Sequential(
        nn.ZeroPad2d((1, 1, 0, 1)),  # (time left, time right, freq top, freq bottom)
        nn.Conv2d(in_channels, out_channels, (2, 3)),
    )


class ConvUnit(nn.Module):
    """conv 2x3 -> norm -> ReLU; the norm is batch norm or mixup normalisation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: str = "batch",
        mix_p: float = 0.5,
        mix_alpha: float = 0.3,
    ) -> None:
        super().__init__()
        self.conv = conv2x3(in_channels, out_channels)
        if norm == "batch":
            self.norm: nn.Module = nn.BatchNorm2d(out_channels)
        elif norm == "mixup":
            self.norm = MixupNorm(out_channels, p=mix_p, alpha=mix_alpha)
        else:
            raise ValueError(f"norm must be 'batch' or 'mixup', got {norm!r}")
        self.act = nn.ReLU()

    def fold_pairs(self) -> list[tuple[str, str]]:
        """conv -> batch norm pair for ``fold_batchnorm`` (mixup normalisation does not fold)."""
        return [("conv.1", "norm")] if isinstance(self.norm, nn.BatchNorm2d) else []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class MiniSegNet(nn.Module):
    """Encoder (2 conv blocks) - decoder (2 deconv blocks) - dense head. PROPOSAL widths.

    Defaults: the teacher; the student is ``widths=STUDENT_WIDTHS, hidden=STUDENT_HIDDEN``.
    ``input_shape`` may be any sequence (a system's parameters arrive as lists).
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: Sequence[int] = (3, 256, 36),
        widths: Sequence[int] = TEACHER_WIDTHS,
        hidden: int = TEACHER_HIDDEN,
        dropout: float = 0.5,
        mix_p: float = 0.5,
        mix_alpha: float = 0.3,
    ) -> None:
        super().__init__()
        if len(widths) != 5:
            raise ValueError(f"widths must give 5 channel counts (c1..c5), got {list(widths)}")
        channels, freq, _ = input_shape
        if freq % 8:
            raise ValueError(f"the frequency size must be a multiple of 8, got {freq}")
        c1, c2, c3, c4, c5 = (int(c) for c in widths)
        mix = {"mix_p": mix_p, "mix_alpha": mix_alpha}
        # Encoder: F -> F/2 -> F/4 -> F/8 (time likewise, floored).
        self.enc1 = nn.Sequential(ConvUnit(channels, c1, "mixup", **mix), nn.MaxPool2d(2))
        self.enc2 = nn.Sequential(
            ConvUnit(c1, c2), nn.MaxPool2d(2), ConvUnit(c2, c3), nn.MaxPool2d(2)
        )
        # Decoder: F/8 -> F/4 -> F/2.
        self.dec1 = nn.Sequential(nn.Upsample(scale_factor=2), ConvUnit(c3, c4), ConvUnit(c4, c4))
        self.dec2 = nn.Sequential(nn.Upsample(scale_factor=2), ConvUnit(c4, c5, "mixup", **mix))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c5 * (freq // 2), hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dec2(self.dec1(self.enc2(self.enc1(x))))
        return self.classifier(x.mean(dim=3))  # average over time, keep frequency


#: Factory registered as model ``shao2022_minisegnet_proposal``: the class itself.
shao2022_minisegnet_proposal = MiniSegNet
