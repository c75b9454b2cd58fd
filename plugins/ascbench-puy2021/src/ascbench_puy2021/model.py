"""The SP4ASC network (Puy, Jain, Bursuc, DCASE 2021 Task 1A), re-written for ascbench.

Architecture (report Table 1 and Figure 1; upstream class ``Cnn6_60k``):

- **BN-mel** (``bn0``): a batch norm over the 256 mel bins (the mel axis is moved to the
  channel axis for it);
- **SpecAugment** (``spec_augmenter``): time and frequency stripes set to 0 *after* BN-mel,
  active only while the module is in training mode (training, and test-time augmentation);
- four **Conv-BN-ReLU-Pool** blocks (``conv1`` .. ``conv4``, :class:`SepConv`): a 1x1
  convolution ``ch_conv1`` followed by the *sum* of two depthwise convolutions, ``sp_conv1``
  (3x1 along time, dilation 2) and ``sp_conv2`` (1x3 along frequency, dilation 2), none with a
  bias; then batch norm, ReLU and 2x2 average pooling;
- **global pooling**: mean over frequency, then max over time plus mean over time;
- **MLP**: dropout, ``fc1`` (128 -> 128), ReLU, dropout, ``fc2`` (128 -> classes).

The parameter names are those of the released checkpoints, so that a checkpoint's ``net``
state dict loads with ``strict=True`` (:mod:`ascbench_puy2021.checkpoint`).

ascbench frontends give ``(batch, channels, freq, time)``; the upstream network consumes
``(batch, 1, time, freq)``. :meth:`SP4ASCNet.forward` transposes once on entry, so every
kernel keeps the orientation it was trained with (``sp_conv1`` runs along time).

Test-time compression (report §2.2 and §4) is declared to ascbench's ``fold_batchnorm``
compressor through ``fold_pairs()`` methods: each block's batch norm folds into *both*
depthwise kernels (the BN acts on their sum) with the shift as a new bias of ``sp_conv2``,
and ``bn0`` becomes an ``Affine`` layer (2 values per mel bin). The authors fold without
the batch-norm epsilon; ascbench's ``fold_batchnorm(eps=false)`` reproduces that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.fx
from torch import nn

from ascbench_puy2021.checkpoint import load_weights

#: Channel widths of the four blocks in ``Cnn6_60k``.
CHANNELS: tuple[int, int, int, int] = (64, 128, 128, 128)

#: Input of the released checkpoints: 1 channel, 256 mel bins, 431 frames (10 s at 44.1 kHz,
#: hop 1024, centred STFT), in ascbench's (channels, freq, time) order.
INPUT_SHAPE: tuple[int, int, int] = (1, 256, 431)


@torch.fx.wrap
def drop_stripes(x: torch.Tensor, dim: int, max_width: int, stripes: int) -> torch.Tensor:
    """Set ``stripes`` random stripes of ``x`` along ``dim`` to 0, drawn per example.

    Same distribution as torchlibrosa's ``DropStripes`` (used upstream): each stripe's width
    is uniform in ``0 .. max_width - 1`` and its start uniform in ``0 .. length - width - 1``.
    Randomness comes from torch's global generator (seed it with ``torch.manual_seed``).
    When ``max_width`` exceeds the axis length (short clips), widths are capped at
    ``length - 1``; torchlibrosa would fail there instead.
    """
    length = x.shape[dim]
    if stripes <= 0 or max_width <= 0 or length <= 1:
        return x
    batch = x.shape[0]
    high = min(int(max_width), length)
    widths = torch.randint(0, high, (batch, stripes))
    room = (length - widths).to(torch.float64)
    starts = torch.minimum(
        (torch.rand(batch, stripes, dtype=torch.float64) * room).long(), length - widths - 1
    )
    pos = torch.arange(length).view(1, 1, length)
    mask = ((pos >= starts.unsqueeze(-1)) & (pos < (starts + widths).unsqueeze(-1))).any(dim=1)
    shape = [batch] + [1] * (x.dim() - 1)
    shape[dim] = length
    return x.masked_fill(mask.view(shape).to(x.device), 0.0)


class SpecAugmentation(nn.Module):
    """SpecAugment on ``(batch, channels, time, freq)``: time stripes, then frequency stripes.

    Configured as the upstream list ``[T, n, F, m]``: ``n`` time stripes of width
    ``< T`` frames and ``m`` frequency stripes of width ``< F`` bins. It is the identity in
    eval mode; test-time augmentation keeps it in training mode while the rest of the
    network is in eval mode (:meth:`SP4ASCNet.test_time_augmentation`).
    """

    def __init__(
        self, time_width: int, time_stripes: int, freq_width: int, freq_stripes: int
    ) -> None:
        super().__init__()
        for name, value in (
            ("time_width", time_width),
            ("time_stripes", time_stripes),
            ("freq_width", freq_width),
            ("freq_stripes", freq_stripes),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"SpecAugment {name} must be a non-negative integer, got {value!r}"
                )
        self.time_width, self.time_stripes = time_width, time_stripes
        self.freq_width, self.freq_stripes = freq_width, freq_stripes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        x = drop_stripes(x, 2, self.time_width, self.time_stripes)
        return drop_stripes(x, 3, self.freq_width, self.freq_stripes)

    def extra_repr(self) -> str:
        return f"[{self.time_width}, {self.time_stripes}, {self.freq_width}, {self.freq_stripes}]"


def _dilated_depthwise(channels: int, along: int) -> nn.Conv2d:
    """Depthwise conv, 3 taps at dilation 2 along axis ``along`` of (time, freq), no bias.

    ``along=0``: kernel (3, 1), padding (2, 0), dilation (2, 1); ``along=1``: the transpose.
    """
    kernel, padding, dilation = [1, 1], [0, 0], [1, 1]
    kernel[along], padding[along], dilation[along] = 3, 2, 2
    return nn.Conv2d(
        channels,
        channels,
        kernel_size=tuple(kernel),
        padding=tuple(padding),
        dilation=tuple(dilation),
        groups=channels,
        bias=False,
    )


class SepConv(nn.Module):
    """Conv-BN-ReLU-Pool block with the separable convolution of report Eq. (2).

    ``y = h_3x1(g_1x1(x)) + h_1x3(g_1x1(x))``, then batch norm, ReLU and 2x2 average pooling.
    ``(cin + 6) * cout`` convolution weights, ``cout`` more after folding the batch norm.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.ch_conv1 = nn.Conv2d(cin, cout, kernel_size=1, bias=False)
        # Input layout (batch, channels, time, freq): (3, 1) runs along time, (1, 3) along freq.
        self.sp_conv1 = _dilated_depthwise(cout, along=0)
        self.sp_conv2 = _dilated_depthwise(cout, along=1)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.ch_conv1(x)
        x = self.sp_conv1(x) + self.sp_conv2(x)
        return self.pool(self.relu(self.bn(x)))

    def fold_pairs(self) -> list[dict[str, Any]]:
        """The batch norm acts on the sum of both depthwise convolutions (report Eq. 3-5);
        the shift becomes the bias of ``sp_conv2``, as in the authors' ``merge_conv_bn``."""
        return [{"convs": ["sp_conv1", "sp_conv2"], "bn": "bn", "bias_on": "sp_conv2"}]


class SP4ASCNet(nn.Module):
    """SP4ASC ``Cnn6_60k``: BN-mel, 4 separable-convolution blocks, global pooling, MLP.

    ``input_shape`` is ascbench's ``(channels, freq, time)``; ``freq`` sets the size of
    BN-mel (256 for the released checkpoints) and ``channels`` the input of ``conv1``.
    ``specaugment`` is the upstream ``[T, n, F, m]`` list, or None for no augmentation.
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: Sequence[int] = INPUT_SHAPE,
        channels: Sequence[int] = CHANNELS,
        dropout: float = 0.2,
        specaugment: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be (channels, freq, time), got {input_shape!r}")
        in_channels, n_mels, _ = (int(s) for s in input_shape)
        channels = tuple(int(c) for c in channels)
        if len(channels) != 4:
            raise ValueError(f"channels must list 4 block widths, got {channels!r}")
        self.bn0 = nn.BatchNorm2d(n_mels)
        if specaugment is None:
            self.spec_augmenter: nn.Module = nn.Identity()
        else:
            if len(specaugment) != 4:
                raise ValueError(
                    f"specaugment must be [T, n, F, m] (upstream order), got {specaugment!r}"
                )
            self.spec_augmenter = SpecAugmentation(*(int(v) for v in specaugment))
        self.conv1 = SepConv(in_channels, channels[0])
        self.conv2 = SepConv(channels[0], channels[1])
        self.conv3 = SepConv(channels[1], channels[2])
        self.conv4 = SepConv(channels[2], channels[3])
        self.dropout1 = nn.Dropout(dropout)
        self.fc1 = nn.Linear(channels[3], channels[3])
        self.relu = nn.ReLU()
        self.dropout2 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(channels[3], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, classes)`` of features ``(batch, channels, freq, time)``."""
        x = x.transpose(2, 3)  # upstream layout (batch, channels, time, freq)
        # BN-mel: the mel axis becomes the channel axis for the batch norm, then goes back.
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        x = self.spec_augmenter(x)
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        x = x.mean(dim=3)  # over frequency
        x = x.amax(dim=2) + x.mean(dim=2)  # over time: max + mean
        x = self.relu(self.fc1(self.dropout1(x)))
        return self.fc2(self.dropout2(x))

    def fold_pairs(self) -> list[tuple[None, str]]:
        """BN-mel follows no convolution: it folds into an Affine layer (512 parameters)."""
        return [(None, "bn0")]

    def test_time_augmentation(self, enabled: bool = True) -> SP4ASCNet:
        """Eval mode for the whole network except SpecAugment, which stays in training mode
        when ``enabled`` (the authors' TTA: ``net.eval(); net.spec_augmenter.train()``).

        Dropout and batch norms are in eval mode either way. Returns the network.
        """
        self.eval()
        self.spec_augmenter.train(enabled)
        return self


def sp4asc_cnn(
    num_classes: int = 10,
    input_shape: Sequence[int] = INPUT_SHAPE,
    channels: Sequence[int] = CHANNELS,
    dropout: float = 0.2,
    specaugment: Sequence[int] | None = None,
    weights: str | None = None,
) -> SP4ASCNet:
    """Factory registered as model ``sp4asc_cnn``.

    ``weights`` is the path of a released SP4ASC checkpoint (``ckpt.pth``) or of a plain
    state dict of this network; it is loaded with ``strict=True`` through
    :func:`ascbench_puy2021.checkpoint.load_weights`, which raises a one-line
    :class:`ascbench.errors.AscbenchError` naming the file when it cannot be used.
    """
    model = SP4ASCNet(num_classes, tuple(input_shape), tuple(channels), dropout, specaugment)
    if weights is not None:
        load_weights(model, weights)
    return model
