"""Optimizers and learning-rate schedules built from a :class:`~ascbench.systems.TrainingRecipe`.

Schedules are laid out over the *budgeted* run: ``epochs`` is the number of epochs this run
trains (``ascbench run`` shortens the report's recipe unless ``--full``), so a 3-epoch run
still anneals all the way down. ``scheduler_params`` keys per scheduler:

- ``cosine``: ``eta_min`` (0), ``interval`` (``"epoch"``, as SP4ASC's ``CosineAnnealingLR``
  stepped per epoch, or ``"step"`` for a per-batch cosine). ``T_max`` = the budgeted epochs
  (or steps).
- ``one_cycle`` (:class:`torch.optim.lr_scheduler.OneCycleLR`, stepped per batch over the
  budgeted steps): ``max_lr`` (the recipe's ``lr``), ``pct_start`` (0.3), ``div_factor`` (25),
  ``final_div_factor`` (1e4), ``anneal_strategy`` (``"cos"``), ``three_phase`` (false),
  ``cycle_momentum`` (true when the optimizer has momentum/betas), ``base_momentum`` (0.85),
  ``max_momentum`` (0.95).
- ``warm_restarts`` (SGDR, Loshchilov & Hutter 2017, as Hu et al.'s per-batch
  ``LR_WarmRestart``): within each period the lr follows a per-batch cosine from the recipe's
  ``lr`` down to ``eta_min`` (0) and then restarts. Periods are ``periods`` (a list, in epochs
  of the report's recipe) or ``t0`` (1) then ×``t_mult`` (2) each restart; after the listed
  periods, the last one keeps growing by ``t_mult``. With ``scale_to_budget`` (true) the
  period boundaries are scaled by ``budget epochs / recipe.epochs``, so a shortened run goes
  through the same restarts in proportion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ascbench.systems import TrainingRecipe
from ascbench.training.errors import RecipeError
from ascbench.training.options import recipe_option

#: Accepted ``scheduler_params`` keys per scheduler.
SCHEDULER_KEYS: dict[str, frozenset[str]] = {
    "none": frozenset(),
    "cosine": frozenset({"eta_min", "interval"}),
    "one_cycle": frozenset(
        {
            "max_lr",
            "pct_start",
            "div_factor",
            "final_div_factor",
            "anneal_strategy",
            "three_phase",
            "cycle_momentum",
            "base_momentum",
            "max_momentum",
        }
    ),
    "warm_restarts": frozenset({"periods", "t0", "t_mult", "eta_min", "scale_to_budget"}),
}

#: Accepted ``optimizer_params`` keys per optimizer (PyTorch's argument names).
OPTIMIZER_KEYS: dict[str, frozenset[str]] = {
    "adam": frozenset({"betas", "eps", "amsgrad"}),
    "adamw": frozenset({"betas", "eps", "amsgrad"}),
    "sgd": frozenset({"nesterov", "dampening"}),
}


def _check_keys(what: str, given: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise RecipeError(f"{what}: unknown key(s) {', '.join(unknown)}; accepted: {accepted}")


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], recipe: TrainingRecipe
) -> torch.optim.Optimizer:
    """Adam (L2 ``weight_decay``), AdamW (decoupled) or SGD (``momentum``) at ``recipe.lr``.

    Extra PyTorch arguments come from ``optimizer_params`` (``betas``, ``eps``, ``amsgrad``;
    ``nesterov``, ``dampening``). Parameters without gradient (frozen) are skipped by the
    optimizer, weight decay included.

    The update runs as multi-tensor (``foreach``) operations, also on CPU where PyTorch's
    default is a loop over the parameters: the same arithmetic per element in the same order
    (the same numbers as the loop), a few calls per step instead of several per parameter
    (a third less optimizer time on the bundled models). ``fused`` would be faster still but
    rounds differently, so it is not used.
    """
    params = list(parameters)
    extra = dict(recipe_option(recipe, "optimizer_params") or {})
    _check_keys(f"optimizer_params for {recipe.optimizer}", extra, OPTIMIZER_KEYS[recipe.optimizer])
    if "betas" in extra:
        extra["betas"] = tuple(float(b) for b in extra["betas"])
    extra["foreach"] = True
    try:
        if recipe.optimizer == "adam":
            return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **extra)
        if recipe.optimizer == "adamw":
            return torch.optim.AdamW(
                params, lr=recipe.lr, weight_decay=recipe.weight_decay, **extra
            )
        return torch.optim.SGD(
            params,
            lr=recipe.lr,
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
            **extra,
        )
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"optimizer {recipe.optimizer}: {exc}") from exc


def warm_restart_lr(
    position: float,
    periods: list[float],
    t_mult: float,
    max_lr: float,
    eta_min: float,
) -> float:
    """SGDR learning rate at ``position`` (in epochs, fractional) for the given periods."""
    start = 0.0
    period = periods[0]
    i = 0
    while True:
        period = periods[i] if i < len(periods) else period * t_mult
        if position < start + period:
            phase = (position - start) / period
            return eta_min + 0.5 * (max_lr - eta_min) * (1.0 + math.cos(math.pi * phase))
        start += period
        i += 1


def restart_epochs(periods: list[float], t_mult: float, until: float) -> list[float]:
    """Epochs (in the periods' units) at which SGDR restarts, up to ``until``."""
    out, start, i, period = [], 0.0, 0, periods[0]
    while True:
        period = periods[i] if i < len(periods) else period * t_mult
        start += period
        if start >= until:
            return out
        out.append(start)
        i += 1


class LrSchedule:
    """A learning-rate schedule with its stepping interval.

    The trainer calls :meth:`step_batch` after every optimizer step and :meth:`step_epoch`
    after every epoch; only the one matching :attr:`interval` advances the schedule.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        name: str,
        interval: str | None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        total_steps: int,
    ):
        self.optimizer = optimizer
        self.name = name
        self.interval = interval
        self.scheduler = scheduler
        self.total_steps = total_steps
        self._steps = 0

    @property
    def lr(self) -> float:
        """The learning rate of the first parameter group, as the next step will use it."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step_batch(self) -> None:
        self._steps += 1
        # OneCycleLR refuses to step past total_steps; a run never needs to.
        if self.interval == "step" and self.scheduler is not None:
            if self._steps <= self.total_steps:
                self.scheduler.step()

    def step_epoch(self) -> None:
        if self.interval == "epoch" and self.scheduler is not None:
            self.scheduler.step()


def _float(params: dict[str, Any], key: str, default: float, what: str) -> float:
    value = params.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise RecipeError(
            f"scheduler_params.{key} for {what} must be a number, got {value!r}"
        ) from exc


def warm_restart_factor(
    recipe: TrainingRecipe, epochs: int, steps_per_epoch: int
) -> Callable[[int], float]:
    """``step -> lr / recipe.lr`` for the ``warm_restarts`` schedule (see the module docs)."""
    params = recipe.scheduler_params
    what = "warm_restarts"
    t_mult = _float(params, "t_mult", 2.0, what)
    if "periods" in params:
        raw = params["periods"]
        if not isinstance(raw, (list, tuple)) or not raw:
            raise RecipeError("scheduler_params.periods for warm_restarts must be a non-empty list")
        try:
            periods = [float(p) for p in raw]
        except (TypeError, ValueError) as exc:
            raise RecipeError(f"scheduler_params.periods must be numbers, got {raw!r}") from exc
    else:
        periods = [_float(params, "t0", 1.0, what)]
    if min(periods) <= 0 or t_mult <= 0:
        raise RecipeError("warm_restarts periods, t0 and t_mult must be positive")
    eta_min = _float(params, "eta_min", 0.0, what)
    scale = recipe.epochs / epochs if params.get("scale_to_budget", True) else 1.0
    max_lr = recipe.lr

    def factor(step: int) -> float:
        position = step / steps_per_epoch * scale
        return warm_restart_lr(position, periods, t_mult, max_lr, eta_min) / max_lr

    return factor


def build_schedule(
    optimizer: torch.optim.Optimizer,
    recipe: TrainingRecipe,
    epochs: int,
    steps_per_epoch: int,
    lr_schedule: Callable[[float, int], float] | None = None,
) -> LrSchedule:
    """The recipe's schedule over ``epochs`` budgeted epochs of ``steps_per_epoch`` steps;
    ``lr_schedule`` is the built ``recipe.lr_schedule`` (a registered schedule), which runs
    through the report's ``recipe.epochs`` in proportion to the budgeted steps."""
    if lr_schedule is not None:
        total = max(1, epochs * steps_per_epoch)

        def factor(step: int) -> float:
            return float(lr_schedule(step / total * recipe.epochs, recipe.epochs))

        sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)
        return LrSchedule(optimizer, recipe.lr_schedule.name, "step", sched, total)
    name = recipe.scheduler
    params = dict(recipe.scheduler_params)
    _check_keys(f"scheduler_params for {name}", params, SCHEDULER_KEYS[name])
    total = max(1, epochs * steps_per_epoch)
    if name == "none":
        return LrSchedule(optimizer, name, None, None, total)
    if name == "cosine":
        interval = params.get("interval", "epoch")
        if interval not in ("epoch", "step"):
            raise RecipeError(
                f"scheduler_params.interval must be 'epoch' or 'step', got {interval!r}"
            )
        t_max = epochs if interval == "epoch" else total
        eta_min = _float(params, "eta_min", 0.0, name)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t_max, eta_min=eta_min)
        return LrSchedule(optimizer, name, interval, sched, total)
    if name == "one_cycle":
        group = optimizer.param_groups[0]
        has_momentum = "betas" in group or float(group.get("momentum", 0.0)) > 0
        try:
            sched = torch.optim.lr_scheduler.OneCycleLR(
                optimizer,
                max_lr=_float(params, "max_lr", recipe.lr, name),
                total_steps=total,
                pct_start=_float(params, "pct_start", 0.3, name),
                anneal_strategy=params.get("anneal_strategy", "cos"),
                cycle_momentum=bool(params.get("cycle_momentum", has_momentum)),
                base_momentum=_float(params, "base_momentum", 0.85, name),
                max_momentum=_float(params, "max_momentum", 0.95, name),
                div_factor=_float(params, "div_factor", 25.0, name),
                final_div_factor=_float(params, "final_div_factor", 1e4, name),
                three_phase=bool(params.get("three_phase", False)),
            )
        except ValueError as exc:
            raise RecipeError(f"one_cycle scheduler: {exc}") from exc
        return LrSchedule(optimizer, name, "step", sched, total)
    # warm_restarts
    factor = warm_restart_factor(recipe, epochs, steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=factor)
    return LrSchedule(optimizer, name, "step", sched, total)
