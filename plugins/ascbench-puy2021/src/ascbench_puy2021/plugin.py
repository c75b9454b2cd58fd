"""Hook implementations: the SP4ASC model and the three systems of report Table 2."""

from __future__ import annotations

from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import ComponentRef, EvaluationSettings, ReportedResults, TrainingRecipe
from ascbench_puy2021.inference import TEST_CHAIN
from ascbench_puy2021.model import sp4asc_cnn

REPORT = (
    'G. Puy, H. Jain, A. Bursuc, "Separable convolutions and test-time augmentations for '
    'low-complexity and calibrated acoustic scene classification", DCASE 2021 Task 1A '
    "technical report (valeo.ai); code and checkpoints: valeoai/SP4ASC"
)

# valeoai/SP4ASC LogMelSpectrogram (torchlibrosa): 44.1 kHz, n_fft = window = 2048 (Hann),
# hop 1024, centred with reflect padding, power 2, 256 Slaney mel bins 0-22,050 Hz,
# power_to_db with ref 1, amin 1e-10, no top_db. 10 s -> 431 frames.
#: ascbench's preset "puy2021" (one source of truth, ascbench.frontends.presets).
SP4ASC_PRESET = "puy2021"
SP4ASC_FRONTEND = ComponentRef(name="logmel-preset", params={"name": SP4ASC_PRESET})

#: Folder of each system's released checkpoint (``<folder>/ckpt.pth``; give it with --weights).
RELEASED_CHECKPOINTS: dict[str, str] = {
    "puy2021_ce_tta": "cnn6_small_dropout_2_specAugment_128_2_32_2",
    "puy2021_ce_mu_tta": "cnn6_small_dropout_2_specAugment_128_2_16_2_mixup_2",
    "puy2021_fl_tta": "cnn6_small_dropout_2_specAugment_128_2_32_2_focal_loss",
}

#: Report §4: validation log loss / accuracy (%) without and with 30-pass TTA, per system.
REPORTED_SCORES: dict[str, dict[str, dict[str, float]]] = {
    "puy2021_ce_tta": {
        "no_tta": {"log_loss": 1.10, "accuracy": 65.8},
        "tta30": {"log_loss": 0.90, "accuracy": 66.8},
    },
    "puy2021_ce_mu_tta": {
        "no_tta": {"log_loss": 0.96, "accuracy": 66.2},
        "tta30": {"log_loss": 0.93, "accuracy": 66.2},
    },
    "puy2021_fl_tta": {
        "no_tta": {"log_loss": 0.95, "accuracy": 66.7},
        # Table 2 says 68.7 %, the §4 text 68.3 %; Table 2 is the headline.
        "tta30": {"log_loss": 0.88, "accuracy": 68.7},
        "tta30_section4_text": {"log_loss": 0.88, "accuracy": 68.3},
    },
}

#: The upstream README's numbers for the *released* focal-loss checkpoint, which was
#: re-trained after the challenge (it is not the submitted model of Table 2).
RELEASED_FOCAL_CHECKPOINT_SCORES: dict[str, dict[str, float]] = {
    "no_tta": {"log_loss": 0.94, "accuracy": 67.1},
    "tta30": {"log_loss": 0.89, "accuracy": 67.0},
}

TTA_PASSES = 30


def _recipe(delta_f: int, mixup: bool, focal: bool) -> TrainingRecipe:
    return TrainingRecipe(
        epochs=200,
        batch_size=32,
        optimizer="adamw",
        lr=1e-3,
        weight_decay=1e-5,
        scheduler="cosine",
        scheduler_params={"eta_min": 1e-5, "interval": "epoch"},
        loss="focal" if focal else "cross_entropy",
        focal_gamma=1.0,
        mixup_alpha=0.2 if mixup else None,
        # SpecAugment runs inside the model, after BN-mel (model param `specaugment`), as
        # upstream; ascbench's recipe.specaugment would mask the features before BN-mel.
        specaugment=None,
        mixup_mode="batch",
        drop_last=True,
        extra={
            "specaugment": {
                "applied_by": "model (param specaugment), after BN-mel, training mode only",
                "upstream": [128, 2, delta_f, 2],
                "time_masks": 2,
                "time_width_max_exclusive": 128,
                "freq_masks": 2,
                "freq_width_max_exclusive": delta_f,
                "per_sample": True,
                "fill": 0.0,
            },
        },
    )


def _evaluation(delta_f: int) -> EvaluationSettings:
    return EvaluationSettings(
        tta_passes=TTA_PASSES,
        tta_params={
            "method": "model",
            "seed": 0,
            "description": f"SpecAugment [128, 2, {delta_f}, 2] in training mode inside the "
            "network (after BN-mel) while the rest is in eval mode (dropout off, batch norms "
            "folded), via SP4ASCNet.test_time_augmentation(True); softmax of the 30 passes "
            "averaged, as valeoai/SP4ASC TestManager",
        },
    )


def _reported(system: str, table_row: int) -> ReportedResults:
    scores = REPORTED_SCORES[system]
    no_tta = scores["no_tta"]
    source = (
        f"Table 2, System {table_row} (30-pass TTA, validation split); without TTA (§4): "
        f"log loss {no_tta['log_loss']:.2f}, accuracy {no_tta['accuracy']:.1f} %"
    )
    if system == "puy2021_fl_tta":
        source += (
            "; §4 text gives 68.3 % with TTA. The released focal checkpoint was re-trained "
            "after the challenge; upstream README: 0.94 / 67.1 % without TTA, "
            "0.89 / 67.0 % with 30 TTA"
        )
    return ReportedResults(
        source=source,
        parameters=62474,
        bytes=124948,
        accuracy=scores["tta30"]["accuracy"],
        log_loss=scores["tta30"]["log_loss"],
        counting="test time: 62,474 parameters after folding the batch norms (64,330 at train "
        "time, batch-norm running statistics counted), stored in float16: 124,948 B, which "
        "the report writes as 122 KB (KiB). No MACs reported.",
    )


_DEVIATIONS_COMMON = [
    "Re-written in PyTorch from the report and the released code's behaviour; the parameter "
    "names are upstream's, so the released checkpoints load with strict=True (--weights).",
    "Frontend: ascbench's logmel (torch.stft + librosa Slaney filters) instead of "
    "torchlibrosa's convolutional STFT, same settings; non-44.1 kHz audio is resampled by "
    "ascbench (upstream requires 44.1 kHz input).",
    "SpecAugment is applied inside the model after BN-mel (as upstream), not through "
    "recipe.specaugment (which would mask the features before BN-mel); the recipe records it "
    "in extra['specaugment']. Stripe widths are capped at length - 1 on inputs shorter than "
    "the maximum width (1-s clips), where torchlibrosa would fail.",
    "Test-time augmentation masks are drawn from torch's generator seeded by ascbench "
    "(tta_params.seed), so the 30-pass scores are reproducible; upstream draws unseeded.",
    "The batch-norm fold computes in float32 as upstream's merge_conv_bn does "
    "(fold_batchnorm arithmetic: native, not ascbench's default float64), so the fp16 values "
    "equal the authors' bit for bit on the released checkpoints (plugin README).",
]


def _system(name: str, title: str, delta_f: int, mixup: bool, focal: bool, row: int) -> System:
    deviations = list(_DEVIATIONS_COMMON)
    if focal:
        deviations.append(
            "The released focal-loss checkpoint is not the submitted model (re-trained after "
            "the challenge): compare it with the upstream README numbers, not Table 2."
        )
    return System(
        name=name,
        title=title,
        report=REPORT,
        challenge="dcase2021",
        frontend=SP4ASC_FRONTEND,
        model=ComponentRef(
            name="sp4asc_cnn",
            params={"dropout": 0.2, "specaugment": [128, 2, delta_f, 2], "weights": None},
        ),
        recipe=_recipe(delta_f, mixup, focal),
        compressors=list(TEST_CHAIN),
        evaluation=_evaluation(delta_f),
        reported=_reported(name, row),
        deviations=deviations,
    )


@hookimpl
def register_models() -> list[ModelEntry]:
    return [
        ModelEntry.of(
            sp4asc_cnn,
            "SP4ASC Cnn6_60k: BN-mel, 4 separable-conv blocks (1x1 + dilated 3x1 + 1x3 "
            "depthwise), mean+max pooling, 2-layer MLP; param weights=ckpt.pth",
        )
    ]


@hookimpl
def register_systems() -> list[System]:
    return [
        _system(
            "puy2021_ce_tta",
            "SP4ASC System 1: cross-entropy, SpecAugment dF=32, 30-pass TTA (fold + fp16)",
            delta_f=32,
            mixup=False,
            focal=False,
            row=1,
        ),
        _system(
            "puy2021_ce_mu_tta",
            "SP4ASC System 2: cross-entropy + mixup 0.2, SpecAugment dF=16, 30-pass TTA",
            delta_f=16,
            mixup=True,
            focal=False,
            row=2,
        ),
        _system(
            "puy2021_fl_tta",
            "SP4ASC System 3: focal loss (gamma 1), SpecAugment dF=32, 30-pass TTA",
            delta_f=32,
            mixup=False,
            focal=True,
            row=3,
        ),
    ]
