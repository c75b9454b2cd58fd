"""The authors' test path: fold, fp16 round trip, and test-time SpecAugment.

valeoai/SP4ASC evaluates a trained network as follows (report §4, ``TestManager``):

1. load the training-time checkpoint;
2. fold every batch norm (``merge_conv_bn``, *without* the batch-norm epsilon) and turn
   BN-mel into an affine layer: 62,474 parameters;
3. cast the parameters to float16 and back to float32 ("quantization on disk");
4. with TTA, put the network in eval mode but its SpecAugment module in training mode, and
   average the softmax outputs of 30 passes (dropout stays off).

Steps 2-3 use ascbench's own compressors (``fold_batchnorm(eps=false)`` then ``fp16``),
driven by the same parameters as the systems' compressor chain (:data:`TEST_CHAIN`), so
what is measured is what is evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ascbench.compressors import BUILTIN, CompressionContext
from ascbench.systems import ComponentRef
from ascbench_puy2021.model import SP4ASCNet

#: The systems' compressor chain: the authors' no-eps fold (in float32, as their
#: merge_conv_bn computes it), then float16 storage.
TEST_CHAIN: tuple[ComponentRef, ...] = (
    ComponentRef(name="fold_batchnorm", params={"eps": False, "arithmetic": "native"}),
    ComponentRef(name="fp16", params={}),
)


def compress(
    model: nn.Module,
    chain: Sequence[ComponentRef] = TEST_CHAIN,
    *,
    input_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Apply ``chain`` (ascbench's built-in compressors, by name) to a copy of ``model``,
    returned in eval mode; ``model`` itself is left unchanged. Fold and fp16 need no data;
    the systems' full chain (with measurements per stage) runs in ascbench's own runner."""
    shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
    context = CompressionContext(input_shape=shape)
    out = model
    for ref in chain:
        if ref.name not in BUILTIN:
            raise ValueError(f"unknown compressor {ref.name!r}; built-in: {sorted(BUILTIN)}")
        out = BUILTIN[ref.name](**ref.params).compress(out, context)
    return out.eval()


def deploy(model: nn.Module, *, eps: bool = False, fp16: bool = True) -> nn.Module:
    """The test-time network: batch norms folded (``eps=False``: the authors' fold) and, if
    ``fp16``, parameters stored in float16 and computed in float32 (their half/float trip)."""
    chain = [ComponentRef(name="fold_batchnorm", params={"eps": eps, "arithmetic": "native"})]
    if fp16:
        chain.append(ComponentRef(name="fp16", params={}))
    return compress(model, chain)


def set_test_time_augmentation(model: nn.Module, enabled: bool) -> int:
    """Eval mode everywhere, SpecAugment in training mode if ``enabled``, in every
    :class:`SP4ASCNet` inside ``model`` (also through ascbench's fp16 wrapper).

    Returns how many networks were switched; raises if ``enabled`` and there is none.
    """
    model.eval()
    nets = [m for m in model.modules() if isinstance(m, SP4ASCNet)]
    for net in nets:
        net.test_time_augmentation(enabled)
    if enabled and not nets:
        raise ValueError(f"{type(model).__name__} holds no SP4ASCNet to augment at test time")
    if enabled and all(isinstance(n.spec_augmenter, nn.Identity) for n in nets):
        raise ValueError("test-time augmentation needs a network built with specaugment=[T,n,F,m]")
    return len(nets)


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    features: torch.Tensor,
    passes: int = 1,
    *,
    seed: int | None = 0,
    batch_size: int = 64,
    clips: Sequence[str] | None = None,
) -> torch.Tensor:
    """Class probabilities ``(batch, classes)`` of ``features`` ``(batch, C, F, T)``.

    ``passes == 1``: one plain eval-mode pass, in batches of ``batch_size``. ``passes > 1``:
    the authors' TTA, the mean of the softmax outputs of ``passes`` passes with SpecAugment in
    training mode, clip by clip with torch's generator seeded per (seed, clip name, pass)
    (:func:`ascbench.evaluation.clip_seed`), so a clip's masks do not depend on the batch size
    or on the other clips. ``clips`` names the clips (default: their positions, ``'0'``,
    ``'1'``, ...); with the names ascbench's evaluator uses (the clips' paths in the dataset)
    both draw the same masks. ``seed`` None draws unseeded. The caller's generator state is
    restored; the model is left in eval mode with SpecAugment off.
    """
    from ascbench.evaluation import clip_seed

    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    names = [str(i) for i in range(len(features))] if clips is None else [str(c) for c in clips]
    if len(names) != len(features):
        raise ValueError(f"{len(names)} clip names for {len(features)} clips")
    tta = passes > 1
    set_test_time_augmentation(model, tta)
    try:
        with torch.random.fork_rng(devices=[]):
            if not tta:
                chunks = features.split(batch_size)
                out = [F.softmax(model(chunk).double(), dim=1) for chunk in chunks]
            else:
                out = []
                for i, name in enumerate(names):
                    total = 0
                    for tta_pass in range(passes):
                        if seed is not None:
                            torch.manual_seed(clip_seed(seed, name, tta_pass))
                        total = total + F.softmax(model(features[i : i + 1]).double(), dim=1)
                    out.append(total / passes)
    finally:
        set_test_time_augmentation(model, False)
    return torch.cat(out).float()
