"""CP-JKU's inference path restated with plain torch functions from its stated steps
(fschmid56/cpjku_dcase23 ``models/mel.py`` in eval mode and ``models/cp_mobile_clean.py``), as
an independent check of ascbench's block-sparse frontend and module network."""

from __future__ import annotations

import math

import torch

F = torch.nn.functional


def authors_features(audio: torch.Tensor) -> torch.Tensor:
    """AugmentMelSTFT in eval mode: ``(batch, samples)`` 32-kHz audio -> ``(batch, 256, T)``:
    conv1d pre-emphasis, dense torch.stft, Kaldi mel banks in float32, log, (x + 4.5) / 5."""
    x = F.conv1d(audio.unsqueeze(1), torch.tensor([[[-0.97, 1.0]]])).squeeze(1)
    window = torch.hann_window(3072, periodic=False)
    spec = torch.stft(x, 4096, 500, 3072, window, center=True, pad_mode="reflect",
                      return_complex=True)  # fmt: skip
    power = spec.real**2 + spec.imag**2
    n_mels, low, high = 256, 0.0, 1127.0 * math.log1p(15500.0 / 700.0)
    step = (high - low) / (n_mels + 1)
    left = low + torch.arange(n_mels).unsqueeze(1) * step
    centre, right = left + step, left + 2 * step
    mel = 1127.0 * torch.log1p(torch.arange(2048) * (32000.0 / 4096) / 700.0).unsqueeze(0)
    bank = torch.clamp(
        torch.minimum((mel - left) / (centre - left), (right - mel) / (right - centre)), min=0
    )
    bank = F.pad(bank, (0, 1))
    return ((torch.matmul(bank, power) + 1e-5).log() + 4.5) / 5.0


def _conv_bn(state: dict, key: str, x: torch.Tensor, stride=1, groups=1, relu=True):
    w = state[key + ".0.weight"]
    x = F.conv2d(x, w, None, stride, w.shape[-1] // 2, 1, groups)
    bn = [state[f"{key}.1.{k}"] for k in ("running_mean", "running_var", "weight", "bias")]
    x = F.batch_norm(x, *bn, False, 0.0, 1e-5)
    return F.relu(x) if relu else x


def authors_logits(state: dict, x: torch.Tensor) -> torch.Tensor:
    """Network.forward in eval mode on a state dict without the ``model.`` prefix."""
    x = _conv_bn(state, "in_c.0", x, 2)
    x = _conv_bn(state, "in_c.1", x, 2)
    strides = {"b2": (2, 2), "b4": (2, 1)}
    for name in sorted({k.split(".")[2] for k in state if k.startswith("stages.")}):
        stage = next(k.split(".")[1] for k in state if k.startswith("stages.") and f".{name}." in k)
        p = f"stages.{stage}.{name}"
        stride = strides.get(name, (1, 1))
        hidden = state[p + ".block.0.0.weight"].shape[0]
        y = _conv_bn(state, p + ".block.0", x)
        y = _conv_bn(state, p + ".block.1", y, stride, hidden)
        y = _conv_bn(state, p + ".block.2", y, relu=False)
        if y.shape[1] == x.shape[1]:
            y = y + (x if stride == (1, 1) else F.avg_pool2d(x, 3, stride, 1))
        gx = torch.norm(y, p=2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + 1e-6)
        y = (
            state[p + ".after_block_norm.gamma"] * (y * nx)
            + state[p + ".after_block_norm.beta"]
            + y
        )
        x = F.relu(y)
    x = _conv_bn(state, "feed_forward", x, relu=False)
    return x.mean((2, 3))
