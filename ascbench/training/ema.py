"""Exponential moving average (EMA) of a model's weights, used for evaluation (Deepsound)."""

from __future__ import annotations

import copy

import torch


class ModelEma:
    """A frozen copy of a model whose state follows ``ema ← d·ema + (1 - d)·current``.

    :meth:`update` is called after every optimizer step. The decay warms up with the number of
    updates ``t`` as in TensorFlow's ``ExponentialMovingAverage(num_updates=t)``:
    ``d = min(decay, (1 + t) / (10 + t))``, so that the average forgets the random initial
    weights within a short run. Without it, a decay of 0.999 (Deepsound's) averages over about
    1,000 steps: a run of a few hundred steps evaluates mostly the untrained initial model.
    Every floating-point entry of the state dict is averaged, BatchNorm running statistics
    included (as timm's ``ModelEmaV2``); integer buffers such as ``num_batches_tracked`` are
    copied. The copy starts equal to the
    model (no bias correction). :attr:`module` is kept in eval mode.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        current = model.state_dict()
        decay = self.current_decay
        for name, avg in self.module.state_dict().items():
            value = current[name].detach()
            if avg.is_floating_point():
                avg.mul_(decay).add_(value.to(avg.dtype), alpha=1.0 - decay)
            else:
                avg.copy_(value)
        self.updates += 1

    @property
    def current_decay(self) -> float:
        """The decay the next :meth:`update` applies (warmed up, at most ``decay``)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    @torch.no_grad()
    def copy_to(self, model: torch.nn.Module) -> None:
        """Load the averaged weights into ``model`` (same architecture)."""
        model.load_state_dict(self.module.state_dict())
