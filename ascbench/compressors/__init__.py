"""Model compressors, each a registry entry, composable into a chain.

==================  =============================================================
name                what it does
==================  =============================================================
``fold_batchnorm``  fold batch norms into the preceding convolutions; standalone
                    ones into per-channel :class:`Affine` layers (eps optional)
``fp16``            store parameters/buffers in float16, compute in float32
``int8_static``     int8 post-training static quantization (torch.ao FX or eager)
``prune_l1``        unstructured L1 pruning to an amount, non-zero count or byte
                    budget, fine-tuned, masks baked in
==================  =============================================================

:func:`run_chain` applies a list of them and measures complexity around every stage;
:func:`save_compressed` / :func:`load_compressed` store and restore the result without
pickled code. Knowledge distillation pieces live in :mod:`ascbench.compressors.distillation`.
"""

from ascbench.compressors.base import CompressionError, CompressorBase
from ascbench.compressors.chain import (
    ComplexitySummary,
    CompressionContext,
    StageRecord,
    build_steps,
    measure_compressed,
    run_chain,
)
from ascbench.compressors.discovery import FoldPair
from ascbench.compressors.distillation import (
    DistillationError,
    DistillationSpec,
    TeacherOutputs,
    TeacherTargets,
    dataset_fingerprint,
    distillation_loss,
)
from ascbench.compressors.fold import Affine, FoldBatchNorm, fold_batchnorm
from ascbench.compressors.fp16 import Float16Storage, Fp16
from ascbench.compressors.prune import PruneL1
from ascbench.compressors.quantize import Int8QAT, Int8Static, QuantizedEager, float_reference
from ascbench.compressors.storage import (
    ChainSpec,
    StageSpec,
    chain_spec,
    load_compressed,
    read_chain_spec,
    save_compressed,
)

#: The built-in compressor factories by registry name.
BUILTIN = {
    factory.name: factory for factory in (FoldBatchNorm, Fp16, Int8Static, Int8QAT, PruneL1)
}

__all__ = [
    "BUILTIN",
    "Affine",
    "ChainSpec",
    "ComplexitySummary",
    "CompressionContext",
    "CompressionError",
    "CompressorBase",
    "DistillationError",
    "DistillationSpec",
    "Float16Storage",
    "FoldBatchNorm",
    "FoldPair",
    "Fp16",
    "Int8QAT",
    "Int8Static",
    "PruneL1",
    "QuantizedEager",
    "StageRecord",
    "StageSpec",
    "TeacherOutputs",
    "TeacherTargets",
    "build_steps",
    "chain_spec",
    "dataset_fingerprint",
    "distillation_loss",
    "float_reference",
    "fold_batchnorm",
    "load_compressed",
    "measure_compressed",
    "read_chain_spec",
    "run_chain",
    "save_compressed",
]
