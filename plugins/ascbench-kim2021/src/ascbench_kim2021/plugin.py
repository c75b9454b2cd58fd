"""Hook implementations: Kim's VGGish-initialised CNN and the four pruned systems CNN_pr1..pr4."""

from __future__ import annotations

from ascbench import ModelEntry, System, hookimpl
from ascbench.scenes import SCENES
from ascbench.systems import ComponentRef, ReportedResults, SpecAugment, TrainingRecipe
from ascbench_kim2021.model import kim2021_vggish_cnn

REPORT = (
    'B. Kim, "Building light-weight convolutional neural networks for acoustic scene '
    'classification using audio embeddings", DCASE 2021 Challenge Task 1A technical report, '
    "3M, Saint Paul, MN, USA, 2021"
)

#: Report §3.3: 22.05 kHz mono, window 2048, hop 512, 256 mel bins -> 431 x 256 for 10 s; the
#: rest follows CP-JKU's processor_d18 (report ref [11]): ascbench's preset "kim2021" (one
#: source of truth, ascbench.frontends.presets): |STFT|^2 -> A-weighted dB per FFT bin (ref 1,
#: amin 1e-10, top_db 80) -> Slaney mel filterbank on those dB values. Only the per-frequency
#: standardisation is not applied (see DEVIATIONS).
FRONTEND = ComponentRef(name="logmel-preset", params={"name": "kim2021"})

#: Report §3.2-3.3. Phase 1 only: the fine-tuning after pruning belongs to `prune_l1`.
FINETUNE_EPOCHS = 100  # re-training after pruning: not stated (ambiguity 3)

RECIPE = TrainingRecipe(
    epochs=500,
    batch_size=32,  # not stated in the report (ambiguity 1)
    optimizer="adam",
    lr=2e-4,
    loss="cross_entropy",
    mixup_alpha=0.2,
    # "randomly chosen 15% of frequency channels and 40% of time-frames ... for each
    # mini-batch": one block each, up to 38 of 256 bins and 172 of 431 frames (ambiguity 6);
    # 40 % of the frames on clips of any length (18 of 44 on 1-s clips).
    specaugment=SpecAugment(
        time_masks=1, time_width=172, freq_masks=1, freq_width=38, per_sample=False,
        reference_frames=431,
    ),
    frozen_layers=["layer1", "layer2"],  # VGGish conv1/conv2, fixed during phase 1
    mixup_mode="batch",
    checkpoint="best_valid_loss",
    # re-training after pruning (ambiguity 3); used by `ascbench run --full`
    extra={
        "finetune_epochs": FINETUNE_EPOCHS,
        "memory_format": "channels_last",  # speed, not the report: 1.4x faster steps on the CPU
    },
)

#: Table 2: non-zero parameters per layer (biases included) and in total.
NONZERO: dict[str, dict[str, int]] = {
    "pr1": {"layer1": 385, "layer2": 41_038, "layer3": 55_005, "layer4": 19_970, "total": 116_398},
    "pr2": {"layer1": 365, "layer2": 39_625, "layer3": 53_473, "layer4": 19_965, "total": 113_428},
    "pr3": {"layer1": 404, "layer2": 43_312, "layer3": 57_141, "layer4": 19_984, "total": 120_841},
    "pr4": {"layer1": 385, "layer2": 41_058, "layer3": 55_028, "layer4": 19_968, "total": 116_439},
}

#: Table 3: class-wise log loss and accuracy (%): one row per scene in SCENES order, then the
#: average; per row the systems pr1 .. pr4 (NONZERO's order), each as log loss, accuracy.
_TABLE3_ROWS: list[tuple[float, ...]] = [
    (1.180, 55.4, 1.198, 55.4, 1.212, 55.1, 1.211, 56.4),  # airport
    (0.673, 75.8, 0.672, 77.4, 0.674, 76.1, 0.756, 72.7),  # bus
    (1.028, 60.9, 1.032, 60.3, 1.004, 60.6, 0.992, 60.9),  # metro
    (1.327, 53.9, 1.235, 56.9, 1.284, 54.5, 1.287, 53.9),  # metro_station
    (0.628, 77.4, 0.650, 77.1, 0.669, 74.1, 0.641, 78.1),  # park
    (1.305, 51.9, 1.346, 49.5, 1.294, 53.2, 1.204, 56.6),  # public_square
    (1.048, 61.3, 1.030, 64.3, 1.084, 61.3, 1.068, 62.3),  # shopping_mall
    (1.210, 53.5, 1.220, 51.9, 1.224, 51.5, 1.386, 44.1),  # street_pedestrian
    (0.729, 78.5, 0.705, 78.5, 0.718, 79.5, 0.734, 79.5),  # street_traffic
    (0.968, 64.9, 0.995, 63.9, 0.930, 66.6, 0.811, 70.3),  # tram
    (1.010, 63.4, 1.008, 63.5, 1.009, 63.3, 1.009, 63.5),  # average
]
TABLE3: dict[str, list[tuple[float, float]]] = {
    variant: [(row[2 * column], row[2 * column + 1]) for row in _TABLE3_ROWS]
    for column, variant in enumerate(NONZERO)
}

#: Epochs of re-training after pruning: not stated (ambiguity 3).
#: Calibration batches for static int8 quantization: not stated (ambiguity 4).
CALIBRATION_BATCHES = 100

DEVIATIONS: list[str] = [
    "Frontend: ascbench's preset 'kim2021' is CP-JKU's processor_d18 (|STFT|^2 -> A-weighted "
    "dB per FFT bin with ref 1, amin 1e-10, top_db 80 -> Slaney mel filterbank applied to "
    "those dB values), except its last step: the per-frequency standardisation with "
    "training-set mean/std is not applied (the network sees the mel-projected dB values).",
    "VGGish initialisation: the VGGish conv1/conv2 weights are not bundled. With the default "
    "model parameter vggish_weights: null, layers 1-2 keep PyTorch's random initialisation "
    "and, as in the report's phase 1, stay frozen (random fixed features). Set "
    "model.params.vggish_weights to a local torch.save'd file of the VGGish tensors "
    "(format: ascbench_kim2021.model) for the report's initialisation.",
    "Batch size 32 is assumed (not stated in the report).",
    "Pruning: the report gives only the resulting non-zero counts (Table 2). prune_l1 prunes "
    "globally by L1 magnitude over the conv and FC weights, biases unpruned, until the model "
    "holds the Table 2 total of non-zero parameters (biases included); the per-layer counts "
    "of Table 2 are not targeted and will differ.",
    f"Re-training after pruning: {FINETUNE_EPOCHS} epochs assumed (not stated); the report "
    "re-trains with Adam 2e-4 and no frozen layer.",
    f"int8: PyTorch eager-mode static quantization with the fbgemm qconfig (per-channel "
    f"weights), conv+ReLU fused, calibrated on {CALIBRATION_BATCHES} training batches "
    "(calibration set not stated). PyTorch keeps the 266 biases in fp32, which the report's "
    "size (non-zeros x 1 B) ignores.",
    "Table 3 is taken to be the result of the final (pruned, int8) model; the report does not "
    "say whether it was measured before or after quantization.",
    "SpecAugment '15% of frequency channels and 40% of time-frames' is read as one contiguous "
    "block of up to 38 bins and one of up to 172 frames, drawn once per mini-batch; mixup "
    "draws one lambda ~ Beta(0.2, 0.2) per mini-batch.",
    "Checkpoint selection by the lowest validation loss: the TAU 2020 development set has no "
    "validation split besides the test split, so ascbench run holds out 15 % of each scene's "
    "training recording locations as validation data (never the test split) and trains on "
    "the rest.",
]


@hookimpl
def register_models() -> list[ModelEntry]:
    return [
        ModelEntry.of(
            kim2021_vggish_cnn,
            "Kim (3M) 2021: 3 conv 3x3 (64/128/64, VGGish conv1-2 init) + max-pool, time max, "
            "FC 10",
        )
    ]


def _class_wise(rows: list[tuple[float, float]]) -> dict[str, dict[str, float]]:
    return {
        scene: {"log_loss": ll, "accuracy": acc}
        for scene, (ll, acc) in zip(SCENES, rows[: len(SCENES)], strict=True)
    }


#: The fields the four systems share; :func:`kim_system` adds each variant's own.
SHARED_FIELDS = {
    "report": REPORT,
    "challenge": "dcase2021",
    "frontend": FRONTEND,
    "recipe": RECIPE,
    "deviations": DEVIATIONS,
}


def kim_system(variant: str) -> System:
    """The system CNN_<variant> (``pr1`` .. ``pr4``) of the report."""
    nonzero = NONZERO[variant]["total"]
    average_ll, average_acc = TABLE3[variant][-1]
    return System(
        name=f"kim2021_cnn_{variant}",
        title=f"Kim (3M) CNN_{variant}: VGGish-initialised 3-conv CNN, global L1 pruning to "
        f"{nonzero:,} non-zeros, int8",
        model=ComponentRef(name="kim2021_vggish_cnn", params={"vggish_weights": None}),
        compressors=[
            ComponentRef(
                name="prune_l1",
                params={
                    "scope": "global",
                    "target_nonzero": nonzero,
                    "include_bias": False,
                },
            ),
            ComponentRef(
                name="int8_static",
                params={
                    "mode": "eager",
                    "backend": "fbgemm",
                    "calibration_batches": CALIBRATION_BATCHES,
                },
            ),
        ],
        reported=ReportedResults(
            source=f"Table 2 (non-zero parameters) and Table 3 (dev test split, 2,970 files), "
            f"CNN_{variant}",
            nonzero_parameters=nonzero,
            bytes=nonzero,
            accuracy=average_acc,
            log_loss=average_ll,
            counting="non-zero parameters after pruning, biases included (Table 2); bytes = "
            "non-zeros x 1 B (int8), the report's own formula '120,841 x 8 bit / 8 / 1024 = "
            "118 KB' (stated for CNN_pr3 only, applied here to all four); fp32 biases of "
            "PyTorch quantized layers not counted. Unpruned model: 168,778 parameters (not "
            "stated in the report).",
            class_wise=_class_wise(TABLE3[variant]),
        ),
        **SHARED_FIELDS,
    )


@hookimpl
def register_systems() -> list[System]:
    return [kim_system(variant) for variant in NONZERO]
