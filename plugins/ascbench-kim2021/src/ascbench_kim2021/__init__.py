"""Kim (3M), DCASE 2021 Task 1A: VGGish-initialised 3-conv CNN, pruned and int8, for ascbench."""

from ascbench_kim2021.model import KimVggishCNN, kim2021_vggish_cnn, load_vggish_layers

__all__ = ["KimVggishCNN", "kim2021_vggish_cnn", "load_vggish_layers"]
