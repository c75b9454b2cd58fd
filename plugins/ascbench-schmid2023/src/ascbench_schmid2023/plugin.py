"""Hook implementations: the CP-Mobile network and its DCASE 2023 system."""

from __future__ import annotations

import os

from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import ComponentRef, Distillation, ReportedResults, TrainingRecipe
from ascbench_schmid2023.cp_mobile import cp_mobile

REPORT = (
    'F. Schmid, T. Morocutti, S. Masoudian, K. Koutini, G. Widmer, "CP-JKU submission to DCASE23: '
    'Efficient acoustic scene classification with CP-Mobile", DCASE 2023 Task 1 technical report; '
    "code and checkpoint: fschmid56/cpjku_dcase23"
)

#: ascbench's preset "cpmobile" (one source of truth, ascbench.frontends.presets): CP-JKU's
#: AugmentMelSTFT at inference.
FRONTEND = ComponentRef(name="logmel-preset", params={"name": "cpmobile"})

#: The released checkpoint (float32, before fusion and QAT; give it with --weights).
RELEASED_CHECKPOINT = "cpmobile_dcase23_c0a7nzin_epoch149.ckpt"
RELEASED_SHA256 = "41a1ff72cadb90f6ce0345ed961822f7d0a77ab92b5fcafe9e07d00d891ce118"

#: run_training.py defaults: 150 epochs, batch 256, Adam lr 9e-4 with weight decay 1e-4,
#: exponential warm-up over 14 epochs, constant, linear ramp-down from epoch 50 over 84 epochs
#: to 0.005 x lr; Frequency-MixStyle (p 0.4, alpha 0.3); frequency masking up to 48 mel bins.
#: The schedule and Frequency-MixStyle are registered recipe parts (ascbench.training.parts).
RECIPE = TrainingRecipe(
    epochs=150, batch_size=256, optimizer="adam", lr=9e-4, weight_decay=1e-4,
    lr_schedule=ComponentRef(
        name="exp_warmup_linear_down",
        params={"warmup": 14, "rampdown_start": 50, "rampdown_length": 84, "last_value": 0.005},
    ),
    augmentations=[ComponentRef(name="freq_mixstyle", params={"p": 0.4, "alpha": 0.3})],
    specaugment={"time_masks": 0, "freq_masks": 1, "freq_width": 48},
    time_shift=0.125, shift_mode="roll",
    # run_qat.py: 24 epochs of quantization-aware training from the float model (--full);
    # channels_last is for speed, not the recipe: 1.37x faster training steps on the CPU
    extra={"finetune_epochs": 24, "memory_format": "channels_last"},
)  # fmt: skip

DEVIATIONS = [
    "Log-mel frontend re-implemented after AugmentMelSTFT (ascbench preset 'cpmobile'); the "
    "training-time fmin/fmax jitter is not applied.",
    "Time rolling on features (up to 12.5 % of the frames, i.e. the +-4,000 samples of 32,000) "
    "instead of rolling the waveform; no device impulse-response augmentation.",
    "Trained on labels alone: no distillation from the PaSST / CP-ResNet teacher ensemble "
    "(lambda 0.02, T 2).",
    "Quantization-aware training (int8_qat, torch.ao FX, fbgemm) with the training recipe's "
    "own schedule; the authors freeze observers and batch-norm statistics for the last 4 of "
    "the 24 QAT epochs, ascbench does not.",
]


@hookimpl
def register_models() -> list[ModelEntry]:
    return [
        ModelEntry.of(
            cp_mobile,
            "CP-Mobile: stem 1->8->32, 6 GRN inverted-bottleneck blocks (32/72/168 channels), "
            "1x1 conv + BN + global pooling head; param weights=released checkpoint",
        )
    ]


#: Environment variables that switch on the full recipe (``schmid2023_cpmobile_full``).
DEVICE_IRS_ENV = "ASCBENCH_DEVICE_IRS"
TEACHER_LOGITS_ENV = "ASCBENCH_CPMOBILE_TEACHER_LOGITS"


def _system(name: str, title: str, recipe: TrainingRecipe, deviations: list[str]) -> System:
    return System(
        name=name,
        title=title,
        report=REPORT,
        challenge="dcase2023",
        frontend=FRONTEND,
        model=ComponentRef(name="cp_mobile", params={"weights": None}),
        recipe=recipe,
        compressors=[ComponentRef(name="int8_qat")],
        reported=ReportedResults(
            source="released checkpoint README and the authors' NeSsi (helpers/nessi.py) "
            "on a 1 x 1 x 256 x 64 input; after fuse_model(): 124,862 params, 29,561,088 MACs",
            parameters=126952,
            macs=28893268,
            counting="torchinfo total_params (weights, BN affine terms, GRN scalars; BN "
            "running statistics excluded) and total_mult_adds before fusion, batch 1",
        ),
        deviations=deviations,
    )


def full_recipe(device_irs: str, teacher_logits: str) -> TrainingRecipe:
    """The authors' whole recipe: ``RECIPE`` plus device impulse-response augmentation
    (p 0.6 on device-A clips, the IR folder given), waveform rolling by up to 4,000 samples
    instead of feature rolling, and distillation from the teacher ensemble's stored logits
    (T 2, lambda 0.02: loss = 0.02 * CE + 0.98 * T^2 * KL)."""
    return RECIPE.model_copy(
        update={
            "time_shift": 0.0,
            "augmentations": [
                ComponentRef(name="device_ir", params={"folder": device_irs, "p": 0.6}),
                ComponentRef(name="waveform_roll", params={"max_shift": 4000}),
                *RECIPE.augmentations,
            ],
            "distillation": Distillation(
                logits_file=teacher_logits, temperature=2.0, weight=0.98
            ),  # fmt: skip
        }
    )


@hookimpl
def register_systems() -> list[System]:
    systems = [
        _system(
            "schmid2023_cpmobile",
            "CP-Mobile (CP-JKU, DCASE 2023 rank 1): 256 Kaldi mels, 127 K params, QAT int8",
            RECIPE,
            list(DEVIATIONS),
        )
    ]
    irs, logits = os.environ.get(DEVICE_IRS_ENV), os.environ.get(TEACHER_LOGITS_ENV)
    if irs and logits:  # the full recipe needs the user's IR folder and teacher logits
        systems.append(
            _system(
                "schmid2023_cpmobile_full",
                "CP-Mobile with the full recipe: device IRs, waveform roll, Frequency-"
                "MixStyle, distillation from stored teacher logits, QAT int8",
                full_recipe(irs, logits),
                [
                    DEVIATIONS[0],
                    DEVIATIONS[3],
                    f"Device impulse responses from {irs}; teacher logits from {logits}.",
                ],
            )
        )
    return systems
