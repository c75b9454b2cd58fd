"""SP4ASC (Puy, Jain, Bursuc; valeo.ai, DCASE 2021 Task 1A) as an ascbench plugin."""

from ascbench_puy2021.checkpoint import Checkpoint, load_weights, read_checkpoint
from ascbench_puy2021.inference import deploy, predict_proba, set_test_time_augmentation
from ascbench_puy2021.model import SepConv, SP4ASCNet, SpecAugmentation, sp4asc_cnn

__all__ = [
    "Checkpoint",
    "SP4ASCNet",
    "SepConv",
    "SpecAugmentation",
    "deploy",
    "load_weights",
    "predict_proba",
    "read_checkpoint",
    "set_test_time_augmentation",
    "sp4asc_cnn",
]
