"""The DCASE 2021/2022 baseline CNN, re-created in PyTorch.

Keras original (marmoi/dcase2021_task1a_baseline, marmoi/dcase2022_task1_baseline):
Conv2D(16, 7, same) + BN + ReLU; Conv2D(16, 7, same) + BN + ReLU; MaxPool(5, 5); Dropout 0.3;
Conv2D(32, 7, same) + BN + ReLU; MaxPool(4, T); Dropout 0.3; Flatten; Dense(100, ReLU);
Dropout 0.3; Dense(10, softmax). T = 100 in 2021 (40x500 input), 10 in 2022 (40x51 input).
Keras Conv2D keeps its bias. The softmax is left to the loss (logits out).
"""

from __future__ import annotations

import torch
from torch import nn


class DcaseBaselineCNN(nn.Module):
    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 40, 51),
        second_pool: tuple[int, int] = (4, 10),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        channels, freq, time = input_shape
        # The second pooling shrinks to fit a shorter input (e.g. the 2021 net on 1-s clips).
        after_first = (freq // 5, time // 5)
        pool = (min(second_pool[0], after_first[0]), min(second_pool[1], after_first[1]))
        self.second_pool = pool
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 7, padding=3),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 7, padding=3),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(5, 5),
            nn.Dropout(dropout),
            nn.Conv2d(16, 32, 7, padding=3),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(pool, pool),
            nn.Dropout(dropout),
        )
        flat = 32 * (after_first[0] // pool[0]) * (after_first[1] // pool[1])
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, 100),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(100, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def dcase_baseline_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 40, 51),
    second_pool: tuple[int, int] | list[int] = (4, 10),
    dropout: float = 0.3,
) -> DcaseBaselineCNN:
    """Factory registered as model ``dcase_baseline_cnn``."""
    return DcaseBaselineCNN(num_classes, tuple(input_shape), tuple(second_pool), dropout)
