"""Systems: one technical report's complete recipe, as data.

A :class:`System` names its frontend, model, compressors and evaluators by their registry
names (from any plugin) with parameters, carries its training recipe and evaluation settings,
and states the numbers its report gives, so that the leaderboard can show reported numbers
beside measured ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ComponentRef(_Strict):
    """A reference to a registered component by name, with the parameters for its factory."""

    name: str = Field(description="Registry name of the component (`ascbench plugins` lists them).")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments for its factory, as JSON-like values (a tuple becomes a "
        "list).",
    )


class SpecAugment(_Strict):
    """Time and frequency masking on features (Park et al., 2019)."""

    time_masks: int = Field(1, ge=0, description="Number of time masks.")
    time_width: int = Field(0, ge=0, description="Maximum width of one time mask, in frames.")
    freq_masks: int = Field(1, ge=0, description="Number of frequency masks.")
    freq_width: int = Field(0, ge=0, description="Maximum width of one frequency mask, in bins.")
    per_sample: bool = Field(True, description="Draw masks per example (else one per batch).")
    reference_frames: int | None = Field(
        None,
        ge=1,
        description="Frames of the clips time_width was chosen for (e.g. 640 for a 10-s recipe); "
        "on clips of another length the time width scales with it, so that a 10-s recipe's "
        "64-frame masks do not blank most of a 1-s clip. Null: time_width as given.",
    )

    def time_width_for(self, frames: int) -> int:
        """The maximum time-mask width on clips of ``frames`` frames."""
        if self.reference_frames is None or frames == self.reference_frames:
            return self.time_width
        return max(1, round(self.time_width * frames / self.reference_frames))


class Distillation(_Strict):
    """Knowledge distillation (Hinton et al., 2015) from one teacher system, an ensemble of
    teacher systems (their logits averaged, as CP-JKU's stored ensemble), or a stored logits
    file keyed by file name. Exactly one of ``teacher``, ``teachers`` and ``logits_file``."""

    teacher: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Name of the registered teacher system; it is trained (same seed) before the "
        "student and its logits on the student's training files are stored keyed by file name.",
    )
    teachers: list[str] = Field(
        default_factory=list,
        description="Names of several registered teacher systems (each trained before the "
        "student, same seed); the student learns from the mean of their logits.",
    )
    logits_file: str | None = Field(
        None,
        description="A CSV of teacher logits: a 'filename' column (as in the dataset's labels, "
        "relative to its root) and one column per scene; '~' is expanded, relative paths are "
        "from the current directory. Every training file needs a row.",
    )
    temperature: float = Field(2.0, gt=0, description="Softmax temperature T.")
    weight: float = Field(
        0.5, ge=0, le=1, description="(1 - weight)*loss + weight*T^2*KL(teacher || student)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Distillation:
        given = [n for n, v in (("teacher", self.teacher), ("teachers", self.teachers),
                                ("logits_file", self.logits_file)) if v]  # fmt: skip
        if len(given) != 1:
            raise ValueError(
                "distillation needs exactly one of teacher, teachers and logits_file, got "
                + (" and ".join(given) if given else "none")
            )
        return self

    @property
    def teacher_systems(self) -> list[str]:
        """The teacher systems to train first (none for a logits file)."""
        return [self.teacher] if self.teacher else list(self.teachers)


class TrainingRecipe(_Strict):
    """How a system is trained. ``ascbench run`` uses a budgeted copy unless ``--full``."""

    epochs: int = Field(30, ge=1, description="Epochs of the report's own recipe (--full).")
    batch_size: int = Field(
        32, ge=1, description="Clips per training batch (mixup_mode two_batches reads twice that)."
    )
    optimizer: Literal["adam", "adamw", "sgd"] = Field(
        "adam", description="Optimizer; extra PyTorch arguments go in optimizer_params."
    )
    lr: float = Field(
        1e-3, gt=0, description="Learning rate; a scheduler or lr_schedule scales it over time."
    )
    weight_decay: float = Field(
        0.0, ge=0, description="Weight decay: L2 for adam and sgd, decoupled for adamw."
    )
    momentum: float = Field(0.9, ge=0, description="SGD momentum (optimizer sgd only).")
    scheduler: Literal["none", "cosine", "one_cycle", "warm_restarts"] = Field(
        "none",
        description="Built-in learning-rate schedule over the budgeted run; its keys go in "
        "scheduler_params.",
    )
    scheduler_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings of the scheduler (keys per scheduler: see scheduler_params below).",
    )
    loss: Literal["cross_entropy", "focal"] = Field(
        "cross_entropy",
        description="Training loss on soft targets: cross entropy, or focal loss (Lin et al., "
        "2017) with exponent focal_gamma.",
    )
    focal_gamma: float = Field(1.0, ge=0, description="Focal-loss exponent gamma (loss focal).")
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="s: targets become (1 - s)*one-hot + s/classes."
    )
    mixup_alpha: float | None = Field(
        None, gt=0, description="Mixup Beta(alpha, alpha); null = off."
    )
    specaugment: SpecAugment | None = Field(
        None, description="Time and frequency masking of training features; null = off."
    )
    ema_decay: float | None = Field(None, gt=0, lt=1, description="EMA of weights; null = off.")
    frozen_layers: list[str] = Field(
        default_factory=list, description="Parameter-name prefixes kept frozen during training."
    )
    frozen_epochs: int | None = Field(
        None, ge=1, description="Unfreeze frozen_layers after this many epochs; null = always."
    )
    mixup_mode: Literal["batch", "sample", "two_batches", "between_class"] = Field(
        "batch", description="How mixup pairs examples (ascbench.training.MIXUP_MODES)."
    )
    time_crop: int | None = Field(
        None, ge=1, description="Random crop of this many frames per training example."
    )
    time_shift: float = Field(
        0.0, ge=0, le=1, description="Random time shift up to +- this fraction of the frames."
    )
    shift_mode: Literal["roll", "nearest"] = Field(
        "roll", description="Time-shift fill: wrap around, or repeat the edge frame."
    )
    freq_shift: int = Field(0, ge=0, description="Random frequency shift up to +- this many bins.")
    drop_last: bool = Field(False, description="Drop each epoch's last incomplete batch.")
    checkpoint: Literal["last", "best_valid_loss", "best_valid_accuracy"] = Field(
        "last", description="Weights kept: last epoch, or best epoch on validation data."
    )
    optimizer_params: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra optimizer arguments: betas, eps, amsgrad; nesterov, dampening.",
    )
    distillation: Distillation | None = Field(
        None, description="Learn from a teacher system's outputs; null = off."
    )
    augmentations: list[ComponentRef] = Field(
        default_factory=list,
        description="Registered batch augmentations (register_augmentations, e.g. "
        "freq_mixstyle), applied in order after the recipe's own ones, in training only.",
    )
    lr_schedule: ComponentRef | None = Field(
        None,
        description="A registered learning-rate schedule (register_lr_schedules, e.g. "
        "warmup_cosine, exp_warmup_linear_down), in the report's epochs; replaces "
        "'scheduler', which must then be 'none'.",
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Recipe options specific to a system's plugin."
    )

    @model_validator(mode="after")
    def _one_schedule(self) -> TrainingRecipe:
        if self.lr_schedule is not None and self.scheduler != "none":
            raise ValueError(
                f"lr_schedule '{self.lr_schedule.name}' and scheduler '{self.scheduler}' both "
                "set the learning rate; keep one (scheduler='none' with an lr_schedule)"
            )
        return self


class DeviceSpecific(_Strict):
    """One model per recording device (DCASE 2025): after training, a copy of the general
    model is fine-tuned on each listed device's training clips; clips of other devices (unseen,
    or ``unknown``) use the general model. Every device's model is compressed and counted on
    its own (the 2025 limits apply to each)."""

    devices: list[str] = Field(
        default_factory=lambda: ["a", "b", "c", "s1", "s2", "s3"],
        min_length=1,
        description="Devices that get a model of their own (the 2025 baseline: the devices "
        "of the training split).",
    )
    epochs: int = Field(50, ge=1, description="Fine-tuning epochs per device (--full).")
    lr: float = Field(5e-4, gt=0, description="Fine-tuning learning rate.")

    @field_validator("devices")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or "general" in value:
            raise ValueError("devices must be distinct and not 'general'")
        return value


class EvaluationSettings(_Strict):
    """How a trained system is evaluated."""

    evaluators: list[ComponentRef] = Field(
        default_factory=list, description="Extra evaluators beyond the default DCASE metrics."
    )
    tta_passes: int = Field(1, ge=1, description="Test-time augmentation passes averaged.")
    tta_params: dict[str, Any] = Field(
        default_factory=dict,
        description="How the passes augment (keys: see tta_params below); used when "
        "tta_passes > 1.",
    )


class ReportedResults(_Strict):
    """Numbers a technical report states for a system, kept beside the measured ones."""

    source: str = Field(description="Where in the report, e.g. 'Table 2, CNN_pr3'.")
    parameters: int | None = Field(None, description="Parameter count the report states.")
    nonzero_parameters: int | None = Field(
        None, description="Non-zero parameter count the report states."
    )
    bytes: int | None = Field(None, description="Model size in bytes the report states.")
    macs: int | None = Field(
        None, description="Multiply-accumulate operations per clip the report states."
    )
    accuracy: float | None = Field(None, description="Macro-average accuracy, percent.")
    log_loss: float | None = Field(None, description="Macro-average log loss.")
    counting: str = Field("", description="How the report counted, in its own words.")
    class_wise: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per scene class, the numbers stated, e.g. {\"airport\": {\"accuracy\": "
        "45.3, \"log_loss\": 1.5}}.",
    )
    device_wise: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Per recording device, as class_wise."
    )


class System(_Strict):
    """One technical report's complete, runnable recipe."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9_.\-]+$",
        description="Unique name: what --system takes, and the system's folder under results/.",
    )
    title: str = Field(description="One-line title, shown on boards and in submissions.")
    report: str = Field(description="Citation of the technical report.")
    challenge: str = Field(description="Rule set the system was designed for, e.g. 'dcase2021'.")
    proposal: bool = Field(
        False,
        description="True when the architecture is the plugin's reconstruction sized to the "
        "report's numbers, not the authors' network (shown as † on boards).",
    )
    frontend: ComponentRef = Field(
        description="A registered frontend (waveform -> features) and its arguments."
    )
    model: ComponentRef = Field(
        description="A registered model and the parameters passed to its factory."
    )
    recipe: TrainingRecipe = Field(
        default_factory=TrainingRecipe, description="The report's own training recipe."
    )
    compressors: list[ComponentRef] = Field(
        default_factory=list,
        description="Registered compressors, applied in order after training.",
    )
    evaluation: EvaluationSettings = Field(
        default_factory=EvaluationSettings,
        description="Extra evaluators and test-time augmentation.",
    )
    device_specific: DeviceSpecific | None = Field(
        None, description="One model per recording device (DCASE 2025); null = one model."
    )
    reported: ReportedResults | None = Field(
        None, description="Numbers the report states, shown beside the measured ones."
    )
    deviations: list[str] = Field(
        default_factory=list, description="Where the implementation departs from the report."
    )
    plugin: str = Field("", description="Filled in by the registry.")
