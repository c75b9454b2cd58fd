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
        self._cache: tuple[torch.nn.Module, tuple[list, list, list, list]] | None = None

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        decay = self.current_decay
        floats, float_values, others, other_values = self._pairs(model)
        # one multi-tensor call per operation instead of two per tensor: the same elementwise
        # arithmetic (avg·d, then + (1 - d)·value), so the same numbers as a loop
        if floats:
            torch._foreach_mul_(floats, decay)
            torch._foreach_add_(floats, float_values, alpha=1.0 - decay)
        for avg, value in zip(others, other_values, strict=True):
            avg.copy_(value)
        self.updates += 1

    def _pairs(self, model: torch.nn.Module) -> tuple[list, list, list, list]:
        """The averaged tensors and ``model``'s, by kind; gathered once per model (the trainer
        updates the same model's tensors in place; its state dict's tensors stay the same)."""
        if self._cache is not None and self._cache[0] is model:
            return self._cache[1]
        current = model.state_dict()
        floats, float_values, others, other_values = [], [], [], []
        for name, avg in self.module.state_dict().items():
            value = current[name].detach()
            if avg.is_floating_point() and value.dtype == avg.dtype and value.device == avg.device:
                floats.append(avg)
                float_values.append(value)
            elif avg.is_floating_point():  # another dtype or device: not cached, see below
                self._cache = None
                return self._slow_pairs(current)
            else:
                others.append(avg)
                other_values.append(value)
        self._cache = (model, (floats, float_values, others, other_values))
        return self._cache[1]

    def _slow_pairs(self, current: dict[str, torch.Tensor]) -> tuple[list, list, list, list]:
        floats, float_values, others, other_values = [], [], [], []
        for name, avg in self.module.state_dict().items():
            value = current[name].detach()
            if avg.is_floating_point():
                floats.append(avg)
                float_values.append(value.to(avg.dtype).to(avg.device))
            else:
                others.append(avg)
                other_values.append(value)
        return floats, float_values, others, other_values

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
