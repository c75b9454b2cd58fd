"""The components ascbench ships, registered through the same hooks as any plugin."""

from __future__ import annotations

from ascbench.components import Compressor, Frontend
from ascbench.compressors import FoldBatchNorm, Fp16, Int8Static, PruneL1
from ascbench.evaluation import builtin_evaluators
from ascbench.frontends import LogMel, preset
from ascbench.hookspecs import hookimpl
from ascbench.rules import builtin_rulesets


@hookimpl
def register_rulesets():
    return builtin_rulesets()


@hookimpl
def register_frontends():
    return [
        Frontend(
            "logmel",
            LogMel,
            "Log-mel spectrogram, librosa-exact (Slaney/HTK mel, dB/ln, top_db, deltas incl. "
            "valid crop, A-weighting, min-max)",
        ),
        Frontend(
            "logmel-preset",
            preset,
            "LogMel with a named preset's settings (name=...) plus overrides",
        ),
    ]


@hookimpl
def register_evaluators():
    return builtin_evaluators()


@hookimpl
def register_compressors():
    return [
        Compressor(
            "fold_batchnorm",
            FoldBatchNorm,
            "Fold batch norms into the preceding conv/linear (a BN of a sum of convs folds into "
            "each); standalone BNs become per-channel Affine layers; eps: false reproduces the "
            "SP4ASC fold",
        ),
        Compressor(
            "fp16",
            Fp16,
            "Store parameters and buffers in float16 (2 B each); compute in float32 on the fly",
        ),
        Compressor(
            "int8_static",
            Int8Static,
            "int8 post-training static quantization (torch.ao FX or eager mode, fbgemm/x86), "
            "calibrated on training batches; conv+BN+ReLU fused",
        ),
        Compressor(
            "prune_l1",
            PruneL1,
            "Unstructured L1 pruning (global or per layer) by amount, to a non-zero count or a "
            "byte budget; fine-tuned; masks baked in",
        ),
    ]
