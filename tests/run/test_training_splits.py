"""DCASE 2024 training splits (`run --split`) and the 2025 default split (issue 15)."""

from __future__ import annotations

import json

import pytest

from ascbench.cli import main
from ascbench.commands.run import OptionsError, training_splits
from ascbench.errors import RuleSetError
from ascbench.leaderboard import ResultStore
from ascbench.plugins import load_registry
from tests.core.test_run import TINY
from tests.synthetic import tiny_tau2022


@pytest.fixture(scope="module")
def registry():
    return load_registry(entry_points=False, environment=False)


def test_which_splits_a_run_trains_on(registry, tmp_path):
    r22, r24, r25 = (registry.ruleset(n) for n in ("dcase2022", "dcase2024", "dcase2025"))
    assert training_splits(r22, None) == [(r22, None)]
    (only,) = training_splits(r24, None)
    assert (only[0].name, only[1]) == ("dcase2024-split100", 100)
    assert [(r.name, p) for r, p in training_splits(r24, [5, 100, 5])] == [
        ("dcase2024-split5", 5), ("dcase2024-split100", 100),
    ]  # fmt: skip
    assert training_splits(r25, None) == [(r25, 25)]  # 2025: the 25 % split, its own name
    # data without split files: the whole training split, with a warning
    assert training_splits(r25, None, str(tmp_path)) == [(r25, None)]
    with pytest.raises(OptionsError, match="'dcase2022' trains on the whole training split"):
        training_splits(r22, [5])
    with pytest.raises(OptionsError, match="--split 5: rule set 'dcase2025' allows 25"):
        training_splits(r25, [5])
    variant = r24.for_split(5)
    assert variant.limits == r24.limits and variant.train_split == 5
    with pytest.raises(RuleSetError, match="already the 5 % split"):
        variant.for_split(10)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tiny_tau2022(tmp_path_factory.mktemp("data") / "synth")


def test_run_on_two_splits_gives_a_board_each_and_a_table_across(plugin_dir, data, tmp_path,
                                                                 capsys):  # fmt: skip
    module = plugin_dir("split_tiny_plugin", TINY)
    results = tmp_path / "results"
    code = main(
        ["--plugin", module, "run", "--rules", "dcase2024", "--split", "5", "--split", "100",
         "--data", str(data), "--results", str(results), "--budget", "2", "--no-progress",
         "--cache", str(tmp_path / "cache"), "--jobs", "1", "--system", "tiny_ok"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    store = ResultStore(results)
    small = store.get("tiny_ok", "dcase2024-split5", 0)
    full = store.get("tiny_ok", "dcase2024-split100", 0)
    # split5 is whole 10-s recordings of the training split: fewer clips, the same test set
    train_5, train_100 = (e.provenance.dataset.clips["train"] for e in (small, full))
    assert 0 < train_5 < train_100
    assert small.provenance.dataset.clips["test"] == full.provenance.dataset.clips["test"]
    assert small.ruleset.limits == full.ruleset.limits
    table = json.loads((results / "leaderboard-dcase2024-splits.json").read_text())
    assert table["splits"] == [5, 100]
    (row,) = table["rows"]
    assert set(row["accuracy"]) == {"5", "100"}
    assert row["accuracy"]["100"] == pytest.approx(full.metrics.accuracy)
    assert "by training split" in out and "5 %" in out and "100 %" in out


def test_the_default_budget_gives_large_batch_recipes_enough_steps():
    from ascbench.jobs.plan import step_matched_recipe
    from ascbench.systems import TrainingRecipe

    big = TrainingRecipe(batch_size=256, lr=0.005)
    recipe, note = step_matched_recipe(big, 900)
    assert recipe.batch_size == 56 and recipe.lr == pytest.approx(0.005 * (56 / 256) ** 0.5)
    assert "batch 256 -> 56" in note and "has 16 optimizer steps, not 3" in note
    assert step_matched_recipe(big, 139_620) == (big, None)  # TAU 2022: 545 steps already
    pairs = TrainingRecipe(batch_size=128, lr=1e-3, mixup_alpha=0.4, mixup_mode="two_batches")
    assert step_matched_recipe(pairs, 900)[0].batch_size == 28  # 16 steps of 2 x 28 clips
    sgd = TrainingRecipe(batch_size=256, optimizer="sgd", lr=0.1)
    assert step_matched_recipe(sgd, 900) == (sgd, None)  # SGD recipes keep their batch
    nine = TrainingRecipe(batch_size=64)
    assert step_matched_recipe(nine, 900) == (nine, None)  # 14 steps: not starved
    small = TrainingRecipe(batch_size=16)
    assert step_matched_recipe(small, 54) == (small, None)  # never below 16 clips a batch
    assert step_matched_recipe(TrainingRecipe(batch_size=32), 54)[0].batch_size == 16
