"""Kim (3M), DCASE 2021 Task 1A: a 3-conv + FC CNN whose first two layers are VGGish's.

Report Table 1 (input 431 frames x 256 mel bins, 10 s at 22.05 kHz, hop 512)::

    Layer-1  Conv 3x3, 64  (stride 1, pad 1, bias) -> ReLU -> MaxPool 2x2/2   VGGish conv1
    Layer-2  Conv 3x3, 128 (stride 1, pad 1, bias) -> ReLU -> MaxPool 2x2/2   VGGish conv2
    Layer-3  Conv 3x3, 64  (stride 1, pad 1, bias) -> ReLU -> MaxPool 2x2/2 -> max over time
    Layer-4  FC (64 x 32 = 2048 -> 10) -> softmax (left to the loss: logits out)

Parameters: 640 + 73,856 + 73,792 + 20,490 = 168,778 (no batch norm, so the torch and the
Keras-style counts agree).

ascbench features are ``(batch, channels, freq, time)``: the network is the same, with the
final max taken over the last (time) axis and the FC reading ``channels x freq/8`` values.

VGGish weights
--------------
``vggish_weights`` is the path of a file written with ``torch.save`` holding a plain dict of
tensors (read back with ``torch.load(weights_only=True)``). Either key set is accepted:

- ``conv1.weight``, ``conv1.bias``, ``conv2.weight``, ``conv2.bias``;
- ``features.0.weight``, ``features.0.bias``, ``features.3.weight``, ``features.3.bias``
  (the key names of harritaylor/torchvggish's converted state dict, whose extra keys are
  ignored).

A kernel may be in TensorFlow layout ``[k_time, k_freq, in, out]`` (the AudioSet
``vggish_model.ckpt`` variables ``vggish/conv1/weights`` and ``vggish/conv2/weights``) or in
PyTorch-VGGish layout ``(out, in, k_time, k_freq)`` (torchvggish); the layout is told apart
by the shape. VGGish's input is ``(frames, bands)``, i.e. its kernels' first spatial axis is
time, whereas ascbench's is frequency, so the kernels are converted to
``(out, in, k_freq, k_time)``: TF ``permute(3, 2, 1, 0)``, torchvggish ``transpose(2, 3)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from ascbench.errors import AscbenchError

#: The accepted key names of the four VGGish tensors, per layer: (weight keys, bias keys).
VGGISH_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "layer1": (("conv1.weight", "features.0.weight"), ("conv1.bias", "features.0.bias")),
    "layer2": (("conv2.weight", "features.3.weight"), ("conv2.bias", "features.3.bias")),
}


class ConvBlock(nn.Module):
    """Conv 3x3 (stride 1, padding 1, bias) -> ReLU -> MaxPool 2x2/2 (report Table 1)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=True)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.relu(self.conv(x)))


class KimVggishCNN(nn.Module):
    """The network of report Table 1; submodules ``layer1`` .. ``layer4`` are its rows."""

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 256, 431),
        widths: tuple[int, int, int] = (64, 128, 64),
    ) -> None:
        super().__init__()
        channels, freq, time = input_shape
        if freq < 8 or time < 8:
            raise AscbenchError(
                f"kim2021_vggish_cnn needs at least 8 mel bins and 8 frames (three 2x2 "
                f"poolings), got input_shape {tuple(input_shape)}"
            )
        self.layer1 = ConvBlock(channels, widths[0])
        self.layer2 = ConvBlock(widths[0], widths[1])
        self.layer3 = ConvBlock(widths[1], widths[2])
        self.flatten = nn.Flatten()
        self.layer4 = nn.Linear(widths[2] * (freq // 8), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(x)))
        # "*MP (over time-axis)": a max over every remaining frame, as a pooling op so that
        # int8 (eager) models run it on quantized tensors too.
        x = F.max_pool2d(x, kernel_size=(1, x.shape[-1]))
        return self.layer4(self.flatten(x))

    def fuse_groups(self) -> list[list[str]]:
        """Conv + ReLU groups for eager-mode int8 fusion (see ascbench.compressors)."""
        return [[f"layer{i}.conv", f"layer{i}.relu"] for i in (1, 2, 3)]


def _pick(state: Mapping[str, torch.Tensor], keys: tuple[str, ...], path: Path) -> torch.Tensor:
    for key in keys:
        if key in state:
            return torch.as_tensor(state[key]).float()
    raise AscbenchError(
        f"VGGish weights file {path} has none of the keys {', '.join(keys)}; see "
        "ascbench_kim2021.model for the expected format"
    )


def vggish_kernel_to_freq_time(weight: torch.Tensor, out_channels: int) -> torch.Tensor:
    """A VGGish conv kernel as ``(out, in, k_freq, k_time)`` for ascbench's (F, T) input.

    TF layout ``[k_time, k_freq, in, out]`` is recognised by its last axis being
    ``out_channels``; PyTorch-VGGish layout ``(out, in, k_time, k_freq)`` by its first.
    """
    if weight.dim() != 4:
        raise AscbenchError(
            f"a VGGish conv kernel has 4 dimensions, got shape {tuple(weight.shape)}"
        )
    if weight.shape[-1] == out_channels and weight.shape[0] != out_channels:
        return weight.permute(3, 2, 1, 0).contiguous()  # TF [kT, kF, in, out]
    if weight.shape[0] == out_channels:
        return weight.transpose(2, 3).contiguous()  # torch (out, in, kT, kF)
    raise AscbenchError(
        f"cannot tell the layout of a VGGish kernel of shape {tuple(weight.shape)} "
        f"for {out_channels} output channels"
    )


def load_vggish_layers(model: KimVggishCNN, path: str | Path) -> None:
    """Copy VGGish conv1/conv2 from ``path`` into ``model.layer1`` / ``model.layer2``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise AscbenchError(
            f"VGGish weights file {path} does not exist; give a torch.save'd dict with "
            "conv1.weight/conv1.bias/conv2.weight/conv2.bias, or vggish_weights: null for "
            "random initialisation"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise AscbenchError(
            f"cannot read VGGish weights file {path} with torch.load(weights_only=True): "
            f"{type(exc).__name__}"
        ) from exc
    if not isinstance(state, Mapping):
        raise AscbenchError(
            f"VGGish weights file {path} holds a {type(state).__name__}, not a dict"
        )
    for name, (weight_keys, bias_keys) in VGGISH_KEYS.items():
        conv: nn.Conv2d = getattr(model, name).conv
        weight = vggish_kernel_to_freq_time(_pick(state, weight_keys, path), conv.out_channels)
        bias = _pick(state, bias_keys, path).reshape(-1)
        if weight.shape != conv.weight.shape or bias.shape != conv.bias.shape:
            raise AscbenchError(
                f"VGGish {name} tensors in {path} have shapes {tuple(weight.shape)} and "
                f"{tuple(bias.shape)} after conversion; the model needs "
                f"{tuple(conv.weight.shape)} and {tuple(conv.bias.shape)} (1 input channel)"
            )
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)


def kim2021_vggish_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] | list[int] = (1, 256, 431),
    vggish_weights: str | None = None,
) -> KimVggishCNN:
    """Factory registered as model ``kim2021_vggish_cnn``.

    ``vggish_weights``: optional path of VGGish conv1/conv2 tensors (format in the module
    docs); ``None`` keeps PyTorch's default random initialisation for layers 1 and 2.
    """
    model = KimVggishCNN(num_classes, tuple(input_shape))  # type: ignore[arg-type]
    if vggish_weights:
        load_vggish_layers(model, vggish_weights)
    return model
