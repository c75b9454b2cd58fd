"""Hook implementations: the Mini-SegNet PROPOSAL model, its teacher and its distilled student."""

from __future__ import annotations

from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import (
    ComponentRef,
    Distillation,
    ReportedResults,
    SpecAugment,
    TrainingRecipe,
)
from ascbench_shao2022.model import (
    STUDENT_HIDDEN,
    STUDENT_WIDTHS,
    TEACHER_HIDDEN,
    TEACHER_WIDTHS,
    shao2022_minisegnet_proposal,
)

REPORT = (
    "Y. Shao, X. Zhang, G. Bing, K. Zhao, J. Xu, Y. Ma, W.-Q. Zhang, 'Mini-SegNet for "
    "low-complexity acoustic scene classification', DCASE 2022 Challenge, Task 1 technical "
    "report (Tsinghua University / Jiangsu Normal University), 2022"
)

TEACHER = "shao2022_teacher_proposal"
STUDENT = "shao2022_student_proposal"

#: Report §2.1: 44.1 kHz, 2,048-sample Hann window, hop 1,024 (44 frames per 1-s clip), 256 mel
#: bins, log, delta and delta-delta stacked as channels and cropped to the delta-delta length:
#: 5-frame "valid" deltas, Hu et al.'s (x[t+2]-x[t-2])/5 + (x[t+1]-x[t-1])/10, 44 -> 36 frames.
#: ascbench's preset "shao2022" (one source of truth, ascbench.frontends.presets).
FRONTEND = ComponentRef(name="logmel-preset", params={"name": "shao2022"})

#: Distillation settings (not given in the report; notes 004 #5): KL at T = 2 plus CE, 0.5 each.
DISTILLATION = {"teacher": TEACHER, "temperature": 2.0, "weight": 0.5}


def recipe(distill: bool) -> TrainingRecipe:
    """Report §2.1, §2.3 and §3.1 (both networks trained the same way, 310 epochs)."""
    extra: dict = {
        "memory_format": "channels_last",  # speed, not the report: 1.1x faster steps on the CPU
        # "two data batches ... randomly mixed in each training step"
        "mixup_mode": "two_batches",
        # Features tiled x2 in time (72 frames) and randomly cropped back to 36 = a random
        # circular shift of up to half the clip.
        "time_shift": 0.5,
        "shift_mode": "roll",
        # ImageDataGenerator height_shift_range = 3 (pixels = mel bins, fill 'nearest').
        "freq_shift": 3,
        "image_data_generator": {
            "width_shift_range": 0.6,
            "height_shift_range": 3,
            "fill_mode": "nearest",
            "applied": "height shift as freq_shift; the width (time) shift is not applied on "
            "top of the tiled random crop (one time shift per recipe)",
        },
        "not_reproduced": ["Auto Level", "pix2pix", "mask-based noise reduction"],
    }
    return TrainingRecipe(
        epochs=310,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        momentum=0.9,  # not stated (Hu/McDonnell-style SGD)
        weight_decay=0.0,  # not stated
        scheduler="warm_restarts",
        # restarts after epochs 11, 31, 71, 151, 311 (1-based) = periods 10/20/40/80/160
        scheduler_params={"periods": [10, 20, 40, 80, 160], "eta_min": 1e-5},
        loss="cross_entropy",
        mixup_alpha=0.3,
        specaugment=SpecAugment(time_masks=1, time_width=3, freq_masks=2, freq_width=20),
        distillation=Distillation(**DISTILLATION) if distill else None,
        extra=extra,
    )


#: Table 1 (teacher, 474K, official train split): method -> (avg, A, B, C, S1-S3, S4-S6).
TABLE1: dict[str, tuple[float, ...]] = {
    "Mini-SegNet": (58.14, 68.10, 62.95, 66.66, 56.00, 51.71),
    "Mini-SegNet + Auto Level": (59.06, 68.24, 63.86, 66.93, 58.45, 52.35),
    "Mini-SegNet + Auto Level + pix2pix": (60.58, 69.42, 62.80, 67.23, 58.40, 55.06),
}
#: Table 2 (students): model -> (teacher on full dev?, params as printed, accuracy).
TABLE2: dict[int, tuple[bool, str, float]] = {
    1: (False, "120.21k", 53.09),
    2: (True, "127.16k", 54.12),
    3: (True, "126.07k", 52.83),
}
#: Table 3 (ensembles of students, linear score fusion): only the averages are reliable; the
#: rest of task1_2's row is garbled in the text (reconstruction in the README).
TABLE3: dict[str, dict[str, float]] = {
    "task1_1": {
        "average": 57.42,
        "a": 68.27,
        "b": 62.04,
        "c": 65.81,
        "seen": 55.23,
        "unseen": 51.68,
    },
    "task1_2": {"average": 56.68},
}


def _groups(row: tuple[float, ...]) -> dict[str, dict[str, float]]:
    _, a, b, c, seen, unseen = row
    return {
        "a": {"accuracy": a},
        "b": {"accuracy": b},
        "c": {"accuracy": c},
        "seen": {"accuracy": seen},
        "unseen": {"accuracy": unseen},
    }


TEACHER_REPORTED = ReportedResults(
    source="Table 1, row 'Mini-SegNet' (no Auto Level, no pix2pix; official training split); "
    "§2.2 '474K parameters'. device_wise keys 'seen' = Ave.S1-S3, 'unseen' = Ave.S4-S6",
    parameters=474_000,
    accuracy=TABLE1["Mini-SegNet"][0],
    counting="'474K' / '474k' as printed (rounded to thousands); convention not stated; "
    "accuracy only, no log loss reported",
    device_wise=_groups(TABLE1["Mini-SegNet"]),
)

STUDENT_REPORTED = ReportedResults(
    source="Table 2, model 1 (teacher and student trained on the official training split; "
    "models 2/3 had a teacher trained on the full dev set incl. the test split)",
    parameters=120_210,
    accuracy=TABLE2[1][2],
    counting="'#Params(total)' 120.21k as printed; convention and whether counted after int8 "
    "or pruning not stated; < 30 MMACs stated without a number; accuracy only",
)

_COMMON_DEVIATIONS = [
    "PROPOSAL: the report gives no widths, pool factors, decoder kernels or head (Fig. 1 is "
    "missing); this network is sized to the reported parameter counts (notes/systems.md 004), "
    "not the authors' network.",
    "Mixup normalisation is ascbench's reading: affine instance norm that, in training, "
    "normalises with statistics mixed with a random partner's (p 0.5, Beta(0.3, 0.3)).",
    "Frontend: fmin/fmax, log form and STFT padding are not stated (0-22,050 Hz, dB, centred "
    "reflect); no input standardisation (the team's 2020 system used zero mean / unit "
    "variance; the report does not restate it).",
    "Auto Level, pix2pix and the mask-based noise reduction are not reproduced (Table 1's "
    "reference row is without Auto Level and pix2pix). The ImageDataGenerator width shift "
    "(0.6) is not applied on top of the tiled random crop.",
    "SGD momentum 0.9 and no weight decay are assumed (not stated).",
]


@hookimpl
def register_models():
    return [
        ModelEntry(
            "shao2022_minisegnet_proposal",
            shao2022_minisegnet_proposal,
            "PROPOSAL sized to Shao et al. 2022: Mini-SegNet encoder-decoder (conv 2x3, mixup "
            "norm, BN, max-pool / up-sample) with a frequency-keeping dense head",
        )
    ]


def _minisegnet_system(
    name: str, title: str, widths: tuple[int, ...], hidden: int, **fields
) -> System:
    """A Mini-SegNet proposal system (teacher or student); ``fields``: reported, deviations
    (after the common ones) and, for the student, compressors."""
    deviations = [*_COMMON_DEVIATIONS, *fields.pop("deviations")]
    return System(
        name=name,
        title=title,
        report=REPORT,
        challenge="dcase2022",
        proposal=True,
        frontend=FRONTEND,
        model=ComponentRef(
            name="shao2022_minisegnet_proposal",
            params={"widths": list(widths), "hidden": hidden},
        ),
        recipe=recipe(distill=name == STUDENT),
        deviations=deviations,
        **fields,
    )


@hookimpl
def register_systems():
    return [
        _minisegnet_system(
            TEACHER,
            "Mini-SegNet teacher, PROPOSAL sized to 474K params (not a submission)",
            TEACHER_WIDTHS,
            TEACHER_HIDDEN,
            reported=TEACHER_REPORTED,
            deviations=[
                "The teacher is only the distillation source: it is not meant to meet the "
                "2022 limits (474,778 parameters, about 61 M MACs).",
            ],
        ),
        _minisegnet_system(
            STUDENT,
            "Mini-SegNet student (half width), PROPOSAL, distilled from the teacher, int8",
            STUDENT_WIDTHS,
            STUDENT_HIDDEN,
            compressors=[ComponentRef(name="int8_static", params={"calibration_batches": 100})],
            reported=STUDENT_REPORTED,
            deviations=[
                "Student = teacher at half width with a 96-unit dense layer (proposal; the "
                "report does not describe the students).",
                "Distillation loss not given: (1 - 0.5)·CE + 0.5·T²·KL at T = 2 (proposal), "
                "teacher named in recipe.distillation.",
                "Pruning is mentioned without details and is off; 8-bit quantization is "
                "int8_static post-training (method not given).",
                "The submissions are ensembles of 2-3 students (Table 3: 57.42 % / 56.68 %); "
                "this system is one student (Table 2, model 1).",
            ],
        ),
    ]
