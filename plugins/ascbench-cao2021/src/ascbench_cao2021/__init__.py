"""Cao, Li, Huang (SCUT), DCASE 2021 Task 1A, for ascbench: a PROPOSAL lightweight ResNet with
CBAM attention sized to the report's parameter count (the report's figures are missing)."""

from ascbench_cao2021.model import CaoResNetAttention, cao2021_resnet_attention

__all__ = ["CaoResNetAttention", "cao2021_resnet_attention"]
