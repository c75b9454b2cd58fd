from __future__ import annotations

import math

import pytest
import torch

from ascbench.systems import TrainingRecipe
from ascbench.training.errors import RecipeError
from ascbench.training.optim import (
    build_optimizer,
    build_schedule,
    recipe_option,
    restart_epochs,
    warm_restart_lr,
)


def trace(recipe: TrainingRecipe, epochs: int, steps: int) -> list[list[float]]:
    """The lr used by every step, per epoch, stepping the schedule as the trainer does."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([param], recipe)
    schedule = build_schedule(opt, recipe, epochs, steps)
    out = []
    for _ in range(epochs):
        row = []
        for _ in range(steps):
            row.append(schedule.lr)
            opt.step()
            schedule.step_batch()
        schedule.step_epoch()
        out.append(row)
    return out


def test_optimizers():
    p = [torch.nn.Parameter(torch.zeros(2))]
    adam = build_optimizer(p, TrainingRecipe(optimizer="adam", lr=0.1, weight_decay=0.01))
    assert type(adam) is torch.optim.Adam and adam.defaults["weight_decay"] == 0.01
    adamw = build_optimizer(p, TrainingRecipe(optimizer="adamw", lr=0.1, weight_decay=1e-5))
    assert type(adamw) is torch.optim.AdamW and adamw.defaults["lr"] == 0.1
    sgd = build_optimizer(p, TrainingRecipe(optimizer="sgd", lr=0.1, momentum=0.8))
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.8
    nesterov = build_optimizer(
        p, TrainingRecipe(optimizer="sgd", extra={"optimizer_params": {"nesterov": True}})
    )
    assert nesterov.defaults["nesterov"] is True
    with pytest.raises(RecipeError, match="unknown key"):
        build_optimizer(p, TrainingRecipe(extra={"optimizer_params": {"nesterov": True}}))


def test_no_schedule_keeps_lr():
    lrs = trace(TrainingRecipe(lr=0.05), 3, 4)
    assert all(lr == 0.05 for row in lrs for lr in row)


def test_cosine_per_epoch_follows_the_budget():
    # the report trains 200 epochs; this run has a budget of 4 and must anneal within it
    recipe = TrainingRecipe(
        epochs=200, lr=1e-3, scheduler="cosine", scheduler_params={"eta_min": 1e-5}
    )
    lrs = trace(recipe, 4, 3)
    for e, row in enumerate(lrs):
        expected = 1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi * e / 4)) / 2
        assert all(math.isclose(lr, expected, rel_tol=1e-9) for lr in row)


def test_cosine_per_step():
    recipe = TrainingRecipe(
        lr=0.1, scheduler="cosine", scheduler_params={"interval": "step", "eta_min": 0.0}
    )
    flat = [lr for row in trace(recipe, 2, 5) for lr in row]
    for s, lr in enumerate(flat):
        assert math.isclose(
            lr, 0.05 * (1 + math.cos(math.pi * s / 10)), rel_tol=1e-9, abs_tol=1e-12
        )
    assert len(set(flat)) == 10


def test_one_cycle_over_budgeted_steps():
    recipe = TrainingRecipe(lr=0.01, optimizer="adamw", scheduler="one_cycle", epochs=400)
    flat = [lr for row in trace(recipe, 5, 8) for lr in row]  # 40 steps, not 400 epochs
    assert math.isclose(flat[0], 0.01 / 25, rel_tol=1e-9)
    peak = max(range(40), key=flat.__getitem__)
    assert math.isclose(flat[peak], 0.01, rel_tol=1e-6)
    assert peak == round(0.3 * 40) - 1
    assert flat[-1] < 0.01 / 25 / 1e4 * 10  # annealed to ~ max_lr / (div · final_div)
    assert all(flat[i] <= flat[i + 1] for i in range(peak))
    assert all(flat[i] >= flat[i + 1] for i in range(peak, 39))


def test_warm_restarts_restart_at_doubling_periods():
    # Hu/Cao: per-batch cosine, t0 = 2, periods doubling: restarts at epochs 2, 6, 14
    recipe = TrainingRecipe(
        epochs=14,
        optimizer="sgd",
        lr=0.1,
        scheduler="warm_restarts",
        scheduler_params={"t0": 2, "t_mult": 2, "eta_min": 1e-5},
    )
    steps = 4
    flat = [lr for row in trace(recipe, 14, steps) for lr in row]
    maxima = [s for s, lr in enumerate(flat) if math.isclose(lr, 0.1, rel_tol=1e-12)]
    assert maxima == [0, 2 * steps, 6 * steps]
    for s in range(1, len(flat)):
        if s not in maxima:
            assert flat[s] < flat[s - 1]  # strictly decreasing inside a period
    # per-batch cosine inside the second period (4 epochs = 16 steps long)
    s = 2 * steps + 3
    assert math.isclose(
        flat[s], 1e-5 + 0.5 * (0.1 - 1e-5) * (1 + math.cos(math.pi * 3 / 16)), rel_tol=1e-9
    )
    assert flat[6 * steps - 1] < 0.005  # near eta_min just before a restart


def test_warm_restarts_scaled_to_a_shorter_budget():
    recipe = TrainingRecipe(
        epochs=14, lr=0.1, scheduler="warm_restarts", scheduler_params={"t0": 2, "t_mult": 2}
    )
    flat = [lr for row in trace(recipe, 7, 4) for lr in row]  # half the epochs
    maxima = [s for s, lr in enumerate(flat) if math.isclose(lr, 0.1, rel_tol=1e-12)]
    assert maxima == [0, 4, 12]  # restarts at budget epochs 1 and 3
    unscaled = TrainingRecipe(
        epochs=14,
        lr=0.1,
        scheduler="warm_restarts",
        scheduler_params={"t0": 2, "t_mult": 2, "scale_to_budget": False},
    )
    flat = [lr for row in trace(unscaled, 7, 4) for lr in row]
    maxima = [s for s, lr in enumerate(flat) if math.isclose(lr, 0.1, rel_tol=1e-12)]
    assert maxima == [0, 8, 24]


def test_warm_restarts_explicit_periods():
    # Shao: periods 10/20/40/80/160 restart after epochs 10, 30, 70, 150
    periods = [10, 20, 40, 80, 160]
    assert restart_epochs([float(p) for p in periods], 2.0, 310) == [10, 30, 70, 150]
    assert math.isclose(warm_restart_lr(30.0, periods, 2.0, 0.1, 1e-5), 0.1)
    assert math.isclose(warm_restart_lr(29.999, periods, 2.0, 0.1, 1e-5), 1e-5, abs_tol=1e-6)
    assert math.isclose(warm_restart_lr(20.0, periods, 2.0, 0.1, 0.0), 0.05)
    # past the listed periods the last keeps doubling: 310 + 320
    assert restart_epochs([float(p) for p in periods], 2.0, 1000) == [10, 30, 70, 150, 310, 630]


def test_cao_restart_list():
    # Cao lists restarts at 2, 6, 14, 30, 126, 254, 511 (62 missing, a typo per the notes)
    assert restart_epochs([2.0], 2.0, 600) == [2, 6, 14, 30, 62, 126, 254, 510]


@pytest.mark.parametrize(
    "scheduler, params, match",
    [
        ("cosine", {"T_max": 3}, "unknown key"),
        ("cosine", {"interval": "batch"}, "interval"),
        ("warm_restarts", {"periods": []}, "non-empty"),
        ("warm_restarts", {"t0": 0}, "positive"),
        ("one_cycle", {"pct_start": "x"}, "must be a number"),
    ],
)
def test_bad_scheduler_params(scheduler, params, match):
    recipe = TrainingRecipe(scheduler=scheduler, scheduler_params=params)
    with pytest.raises(RecipeError, match=match):
        trace(recipe, 2, 2)


class FutureRecipe(TrainingRecipe):
    """TrainingRecipe once the proposed fields are added (one of them, here)."""

    mixup_mode: str = "batch"


def test_recipe_options_come_from_field_or_extra():
    assert recipe_option(TrainingRecipe(), "mixup_mode", "batch") == "batch"
    assert (
        recipe_option(TrainingRecipe(extra={"mixup_mode": "sample"}), "mixup_mode", "x") == "sample"
    )
    assert recipe_option(FutureRecipe(mixup_mode="sample"), "mixup_mode", "x") == "sample"
    assert (
        recipe_option(FutureRecipe(extra={"mixup_mode": "sample"}), "mixup_mode", "x") == "sample"
    )
    both = FutureRecipe(mixup_mode="sample", extra={"mixup_mode": "batch"})
    with pytest.raises(RecipeError, match="both as a field and in extra"):
        recipe_option(both, "mixup_mode", "batch")


@pytest.mark.parametrize(
    "recipe",
    [
        TrainingRecipe(optimizer="adam", lr=1e-2, weight_decay=1e-3),
        TrainingRecipe(
            optimizer="adamw", lr=1e-2, weight_decay=1e-2,
            optimizer_params={"betas": [0.8, 0.99], "eps": 1e-7, "amsgrad": True},
        ),
        TrainingRecipe(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3),
        TrainingRecipe(
            optimizer="sgd", lr=0.1, momentum=0.9, optimizer_params={"nesterov": True}
        ),
    ],
    ids=["adam", "adamw-amsgrad", "sgd", "sgd-nesterov"],
)  # fmt: skip
def test_multi_tensor_updates_give_the_loop_s_numbers(recipe):
    """build_optimizer's foreach update must give bit-identical weights to PyTorch's loop."""
    gen = torch.Generator().manual_seed(0)
    shapes = [(8, 3, 3, 3), (8,), (10, 32), (10,)]
    start = [torch.randn(s, generator=gen) for s in shapes]
    grads = [[torch.randn(s, generator=gen) for s in shapes] for _ in range(5)]
    results = []
    for foreach in (True, False):
        params = [torch.nn.Parameter(t.clone()) for t in start]
        opt = build_optimizer(params, recipe)
        assert opt.defaults["foreach"] is True
        if not foreach:  # PyTorch's per-parameter loop, as before
            for group in opt.param_groups:
                group["foreach"] = False
        for step in grads:
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            opt.step()
        results.append([p.detach() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*results, strict=True))
