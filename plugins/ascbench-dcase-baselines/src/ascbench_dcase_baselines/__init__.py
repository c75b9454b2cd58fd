"""The official DCASE 2021 Task 1A and 2022 Task 1 baselines as an ascbench plugin."""

from ascbench_dcase_baselines.model import DcaseBaselineCNN, dcase_baseline_cnn

__all__ = ["DcaseBaselineCNN", "dcase_baseline_cnn"]
