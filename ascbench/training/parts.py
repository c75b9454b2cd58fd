"""Recipe parts that plugins register: batch augmentations and learning-rate schedules.

A system's recipe names them (``TrainingRecipe.augmentations``, ``TrainingRecipe.lr_schedule``)
as :class:`~ascbench.systems.ComponentRef`; :func:`ascbench.build.build_system` builds them
from the registry into a :class:`TrainingParts`, which the trainer applies. ascbench registers
the parts below through the same hooks (``register_augmentations``, ``register_lr_schedules``).

**Augmentation** contract: the factory, called with the ref's params, returns an object with
a ``stage`` and a ``__call__``:

- ``stage = "features"``: ``__call__(x, targets, rng) -> (x, targets)``, where ``x`` is a
  training batch of features ``(batch, channels, freq, time)``, ``targets`` the list of
  ``(batch, classes)`` soft targets (labels, then teacher probabilities) to mix alongside
  ``x`` when the augmentation mixes examples, and ``rng`` the run's
  :class:`numpy.random.Generator` (seeded, so a run repeats). They run after the recipe's
  own augmentations, in order.
- ``stage = "waveform"`` (a class attribute of the factory): the factory also receives
  ``sample_rate`` (the frontend's); ``__call__(wave, targets, rng, devices) -> (wave,
  targets)`` on the batch's audio ``(batch, samples)`` with each clip's device. A recipe with
  one trains on features computed on the fly from augmented audio held in memory
  (:mod:`ascbench.features.waveforms`) instead of the feature cache.

**Schedule** contract: the factory returns ``f(epoch, epochs) -> factor`` of the recipe's
``lr``; ``epoch`` is the position in *the report's* epochs (a float: the budgeted run's
progress times ``recipe.epochs``), ``epochs`` is ``recipe.epochs``. A schedule written in the
report's epochs thus runs through in proportion when ``ascbench run`` shortens training. The
trainer evaluates it before every optimizer step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from ascbench.training.errors import RecipeError


class BatchAugmentation(Protocol):
    stage: str

    def __call__(
        self, x: torch.Tensor, targets: list[torch.Tensor], rng: np.random.Generator
    ) -> tuple[torch.Tensor, list[torch.Tensor]]: ...


#: ``(epoch in the report's epochs, the report's epochs) -> lr factor``
LrFactor = Callable[[float, int], float]


@dataclass(frozen=True)
class TrainingParts:
    """A recipe's registered parts, built: feature augmentations in order, the lr schedule,
    and the waveform augmentations with what they need (the frontend, the training audio)."""

    augmentations: Sequence[BatchAugmentation] = field(default_factory=tuple)
    lr_schedule: LrFactor | None = None
    waveform_augmentations: Sequence[Any] = field(default_factory=tuple)
    #: the system's frontend (audio -> features), for waveform augmentations
    frontend: Any = None
    #: the training audio (:class:`ascbench.features.waveforms.AudioStore`), set by the job
    audio: Any = None

    @property
    def count(self) -> int:
        """How many registered augmentations these parts hold (both stages)."""
        return len(self.augmentations) + len(self.waveform_augmentations)

    def features_of(
        self, filenames: Sequence[str], devices: Sequence[str], targets: list[torch.Tensor],
        rng: np.random.Generator,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:  # fmt: skip
        """A batch's features computed from its audio after the waveform augmentations."""
        if self.audio is None or self.frontend is None:
            raise RecipeError(
                "the recipe augments waveforms but the training audio was not loaded; pass "
                "parts with audio=ascbench.features.waveforms.load_audio_store(...)"
            )
        wave = self.audio.get(filenames)
        for augmentation in self.waveform_augmentations:
            wave, targets = augmentation(wave, targets, rng, list(devices))
        return self.frontend(wave), targets


NO_PARTS = TrainingParts()


# -- augmentations ---------------------------------------------------------------------------
class FreqMixStyle:
    """Frequency-MixStyle (Schmid et al., DCASE 2022/2023; MixStyle of Zhou et al. 2021 on
    frequency bands): with probability ``p`` per batch, each example's features are
    normalised by their per-frequency mean and standard deviation (over channels and time)
    and re-scaled with statistics mixed with those of a random partner,
    ``λ ~ Beta(alpha, alpha)`` per example. Labels are not mixed. The statistics are taken
    without gradient, as in the original."""

    name = "freq_mixstyle"
    description = "Frequency-MixStyle: mix per-frequency mean/std between examples (p, alpha)"
    stage = "features"

    def __init__(self, p: float = 0.4, alpha: float = 0.3, eps: float = 1e-6) -> None:
        if not 0.0 <= float(p) <= 1.0 or float(alpha) <= 0 or float(eps) <= 0:
            raise RecipeError(
                f"freq_mixstyle needs 0 <= p <= 1, alpha > 0 and eps > 0; got p={p!r}, "
                f"alpha={alpha!r}, eps={eps!r}"
            )
        self.p, self.alpha, self.eps = float(p), float(alpha), float(eps)

    def __call__(self, x, targets, rng):
        if x.ndim != 4:
            raise RecipeError(f"freq_mixstyle needs (batch, channels, freq, time) features, "
                              f"got shape {tuple(x.shape)}")  # fmt: skip
        if rng.random() >= self.p or x.shape[0] < 2:
            return x, targets
        with torch.no_grad():
            mu = x.mean(dim=(1, 3), keepdim=True)
            sig = (x.var(dim=(1, 3), keepdim=True) + self.eps).sqrt()
        lam = torch.from_numpy(rng.beta(self.alpha, self.alpha, size=x.shape[0]))
        lam = lam.to(x.device, x.dtype).view(-1, 1, 1, 1)
        perm = torch.from_numpy(rng.permutation(x.shape[0])).to(x.device)
        mu_mix = mu * lam + mu[perm] * (1 - lam)
        sig_mix = sig * lam + sig[perm] * (1 - lam)
        return (x - mu) / sig * sig_mix + mu_mix, targets


class DeviceImpulseResponse:
    """Device impulse-response augmentation (CP-JKU, DCASE 2023): with probability ``p``, a
    clip recorded on one of ``devices`` is convolved with an impulse response drawn at random
    from the ``.wav`` files under ``folder`` (read at the frontend's sample rate) and cut back
    to its length, so that a device-A recording sounds as if made on another device."""

    name = "device_ir"
    description = "convolve device-A clips with a random device impulse response (folder, p)"
    stage = "waveform"

    def __init__(self, folder: str, p: float = 0.6, devices: Sequence[str] = ("a",),
                 sample_rate: int = 32000) -> None:  # fmt: skip
        from pathlib import Path

        from ascbench.data.audio import load_audio

        root = Path(folder).expanduser()
        files = sorted(root.rglob("*.wav")) if root.is_dir() else []
        if not files:
            raise RecipeError(
                f"device_ir: {root} holds no .wav impulse responses; give the folder of the "
                "device impulse responses (e.g. MicIRP) as params.folder"
            )
        if not 0.0 <= float(p) <= 1.0:
            raise RecipeError(f"device_ir: p must be between 0 and 1, got {p!r}")
        self.p, self.devices = float(p), set(devices)
        self.responses = [load_audio(f, sample_rate).astype(np.float64) for f in files]
        self.files = [f.name for f in files]

    def __call__(self, wave, targets, rng, devices):
        import scipy.signal

        out = wave.clone()
        n = wave.shape[1]
        for i, device in enumerate(devices):
            if device in self.devices and rng.random() < self.p:
                ir = self.responses[int(rng.integers(len(self.responses)))]
                x = wave[i].double().numpy()
                out[i] = torch.from_numpy(scipy.signal.fftconvolve(x, ir)[:n]).to(wave.dtype)
        return out, targets


class WaveformRoll:
    """Roll each clip's waveform in time by a random shift in ``[-max_shift, max_shift]``
    samples (CP-JKU: 4,000 at 32 kHz), wrapping around."""

    name = "waveform_roll"
    description = "roll each waveform by up to +-max_shift samples"
    stage = "waveform"

    def __init__(self, max_shift: int = 4000, sample_rate: int = 32000) -> None:
        if int(max_shift) < 0:
            raise RecipeError(f"waveform_roll: max_shift must not be negative, got {max_shift!r}")
        self.max_shift = int(max_shift)

    def __call__(self, wave, targets, rng, devices):
        shifts = rng.integers(-self.max_shift, self.max_shift, size=wave.shape[0], endpoint=True)
        return torch.stack([w.roll(int(s)) for w, s in zip(wave, shifts, strict=True)]), targets


# -- schedules -------------------------------------------------------------------------------
def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise RecipeError(f"{name} must be between 0 and 1, got {value!r}")
    return value


def warmup_cosine(warmup_epochs: float = 0.0, final_factor: float = 0.0) -> LrFactor:
    """Linear warm-up from 0 over ``warmup_epochs`` (report epochs), then a cosine from the
    full lr down to ``final_factor`` x lr at the last epoch (the DCASE 2024 baseline:
    warm-up then cosine)."""
    warmup, final = float(warmup_epochs), _check_fraction("final_factor", final_factor)
    if warmup < 0:
        raise RecipeError(f"warmup_epochs must not be negative, got {warmup_epochs!r}")

    def factor(epoch: float, epochs: int) -> float:
        if epoch < warmup:
            return epoch / warmup
        span = max(epochs - warmup, 1e-9)
        progress = min(1.0, (epoch - warmup) / span)
        return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


warmup_cosine.description = "linear warm-up, then cosine to final_factor x lr"  # type: ignore[attr-defined]


def exp_warmup_linear_down(
    warmup: float = 14, rampdown_start: float = 50, rampdown_length: float = 84,
    last_value: float = 0.005,
) -> LrFactor:  # fmt: skip
    """CP-JKU's schedule (CP-Mobile): exponential warm-up ``exp(-5 (1 - e/warmup)^2)`` over
    ``warmup`` epochs (positions below 0.5 count as 0.5), constant, then a linear ramp from
    epoch ``rampdown_start`` over ``rampdown_length`` epochs down to ``last_value`` x lr,
    which stays. Positions are continuous (the original steps per epoch)."""
    last = _check_fraction("last_value", last_value)
    if warmup < 0 or rampdown_length <= 0 or rampdown_start < 0:
        raise RecipeError("exp_warmup_linear_down needs warmup >= 0, rampdown_start >= 0 and "
                          "rampdown_length > 0")  # fmt: skip

    def factor(epoch: float, epochs: int) -> float:
        up = 1.0
        if epoch < warmup:
            phase = 1.0 - max(epoch, 0.5) / warmup
            up = math.exp(-5.0 * phase * phase)
        if epoch <= rampdown_start:
            down = 1.0
        elif epoch - rampdown_start < rampdown_length:
            down = last + (1 - last) * (rampdown_length - epoch + rampdown_start) / rampdown_length
        else:
            down = last
        return up * down

    return factor


exp_warmup_linear_down.description = (  # type: ignore[attr-defined]
    "CP-JKU: exponential warm-up, constant, linear ramp-down to last_value x lr"
)

#: ascbench's own parts, registered by :mod:`ascbench.builtin`.
BUILTIN_AUGMENTATIONS: tuple[Any, ...] = (FreqMixStyle, DeviceImpulseResponse, WaveformRoll)
BUILTIN_LR_SCHEDULES: tuple[Any, ...] = (warmup_cosine, exp_warmup_linear_down)
