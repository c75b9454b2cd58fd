"""Mini-SegNet (Shao et al., DCASE 2022 Task 1) for ascbench: a PROPOSAL sized to the report."""

from ascbench_shao2022.mixup_norm import MixupNorm
from ascbench_shao2022.model import MiniSegNet, shao2022_minisegnet_proposal

__all__ = ["MiniSegNet", "MixupNorm", "shao2022_minisegnet_proposal"]
