"""The record of a training run: one :class:`EpochRecord` per epoch in a :class:`TrainResult`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EpochRecord(BaseModel):
    """What happened in one epoch."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(description="1-based epoch number.")
    loss: float = Field(description="Mean training loss over the epoch's clips (after mixup).")
    lr: float = Field(description="Learning rate of the epoch's first step.")
    lr_last: float = Field(description="Learning rate of the epoch's last step.")
    seconds: float
    steps: int
    clips: int = Field(description="Training examples seen (after mixup pairing).")
    frozen: bool = Field(description="Whether the frozen_layers were frozen in this epoch.")
    valid_accuracy: float | None = Field(None, description="Macro-average accuracy, percent.")
    valid_log_loss: float | None = None


class TrainResult(BaseModel):
    """The record of one training run (the model itself is trained in place)."""

    model_config = ConfigDict(extra="forbid")

    epochs_planned: int = Field(description="Budgeted epochs; the schedule spans these.")
    epochs_completed: int
    truncated: bool = Field(description="Stopped before epochs_planned by the time budget.")
    stop_reason: str
    diverged: bool = False
    seconds: float
    steps: int
    steps_per_epoch: int
    num_classes: int
    seed: int
    device: str
    max_minutes: float | None = None
    weights: str = Field(description="Weights left in the model: 'last', 'ema' or 'best_*'.")
    best_epoch: int | None = None
    notes: list[str] = Field(default_factory=list, description="What the run had to adapt.")
    history: list[EpochRecord] = Field(default_factory=list)
