"""CP-Mobile: the network of CP-JKU's top-ranked DCASE 2023 Task 1 system, re-written from its
architecture (facts: ../shared/weights/cpmobile/README.md; fschmid56/cpjku_dcase23
``models/cp_mobile_clean.py``); the network is :class:`ascbench.models.cp_mobile.CPMobile`
with GRN, in this configuration.

Input ``(batch, 1, 256, 64)`` (256 mels, 64 frames of a 1-s clip). A stem of two 3x3 stride-2
convolutions (1 -> 8 -> 32 channels), three stages of 3, 2 and 1 blocks with 32, 72 and 168
channels (base 32 times 2.3 per stage, rounded to multiples of 8), and a head of a 1x1
convolution to the classes, batch norm and global average pooling. A block is a 1x1 expansion
(3x, rounded to a multiple of 8), a 3x3 depthwise convolution carrying the block's stride, and a
1x1 projection, each with batch norm (ReLU after the first two); the sum with the shortcut
(identity, or a 3x3 average pool where the block has a stride; none where the channel count
changes) goes through Global Response Normalisation with one scalar gamma and beta, then ReLU.
Strides (2, 2) in block 2 and (2, 1) in block 4. No convolution has a bias. 126,952 parameters
and 28,893,268 MACs by the authors' counter (torchinfo: GRN counts its 2 parameters and no MACs).

Module names follow the original's, so the released Lightning checkpoint loads with strict keys
once its ``model.`` prefix is stripped.
"""

from __future__ import annotations

from ascbench.checkpoints import load_weights
from ascbench.models.cp_mobile import GRN, CPMobile

__all__ = ["CP_MOBILE", "GRN", "STRIDES", "CPMobile", "cp_mobile"]

#: Blocks (numbered across the stages from 1) with a stride, as (mel, time).
STRIDES: dict[str, tuple[int, int]] = {"b2": (2, 2), "b4": (2, 1)}

#: The submitted (127 K) configuration of :class:`CPMobile`; ``**sizes`` of the factory
#: override it.
CP_MOBILE: dict = dict(base_channels=32, channels_multiplier=2.3, expansion_rate=3.0,
                       blocks_per_stage=(3, 2, 1), strides=STRIDES, grn=True)  # fmt: skip


def _sizes(sizes: dict) -> dict:
    """``sizes`` as :class:`CPMobile` names them: this module's earlier ``n_blocks`` is
    ``blocks_per_stage``, and ``strides=None`` meant :data:`STRIDES`."""
    if "n_blocks" in sizes:
        sizes["blocks_per_stage"] = sizes.pop("n_blocks")
    if sizes.get("strides", STRIDES) is None:
        del sizes["strides"]
    return sizes


def cp_mobile(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 256, 64),
    weights: str | None = None,
    **sizes,
) -> CPMobile:
    """CP-Mobile (defaults: the submitted 127 K size); ``weights``: a state dict file or the
    released Lightning checkpoint (``model.`` prefix stripped, strict keys)."""
    config = {**CP_MOBILE, **_sizes(sizes)}
    model = CPMobile(num_classes=num_classes, in_channels=int(input_shape[0]), **config)
    if weights:
        load_weights(model, weights, prefix="model.", what="CP-Mobile")
    return model
