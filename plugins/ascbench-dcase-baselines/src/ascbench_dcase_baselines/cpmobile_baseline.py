"""The DCASE 2024/2025 Task 1 baseline: a simplified CP-Mobile (CP-JKU), re-written from its
architecture; the network is :class:`ascbench.models.cp_mobile.CPMobile` without GRN.

Facts (CPJKU/dcase2024_task1_baseline, ``models/baseline.py``; ../shared/notes/dcase-rules.md
§6.3): input 1 x 256 x 65 (256 mels, 65 frames of a 1-s clip); two 3x3 stride-2 convolutions
with batch norm and ReLU (1 -> 8 -> 32 channels); three stages of 3, 2 and 1 inverted-bottleneck
blocks (1x1 expand + BN + ReLU, 3x3 depthwise + BN + ReLU, 1x1 project + BN, then a shortcut
where the channel count is kept and ReLU after the sum) with channels 32, 56 and 104 (base 32,
multiplier 1.8, each rounded to a multiple of 8) and an expansion rate of 2.1; strides
(1, 2) in block 3 and (2, 1) in block 4, a shortcut with a stride averages over 3x3; the head is
a 1x1 convolution to the classes, batch norm and global average pooling. No convolution has a
bias. 61,148 parameters and 29,419,156 MACs (torchinfo, batch 1).

Module names follow the original's layout (``in_c.0.0.weight``, ``stages.s1.b1.block.0.1``,
``feed_forward.0``), so a state dict saved by the organisers' code loads with strict keys.
"""

from __future__ import annotations

from ascbench.checkpoints import load_weights
from ascbench.models.cp_mobile import CPMobile

__all__ = ["BASELINE", "STRIDES", "dcase2024_baseline_cnn"]

#: Blocks (numbered across stages from 1) that downsample, and their (freq, time) strides.
STRIDES: dict[str, tuple[int, int]] = {"b3": (1, 2), "b4": (2, 1)}

#: The baseline's configuration of :class:`CPMobile`; ``**sizes`` of the factory override it.
BASELINE: dict = dict(base_channels=32, channels_multiplier=1.8, expansion_rate=2.1,
                      blocks_per_stage=(3, 2, 1), strides=STRIDES, grn=False)  # fmt: skip


def dcase2024_baseline_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] = (1, 256, 65),
    weights: str | None = None,
    **sizes,
) -> CPMobile:
    """The DCASE 2024/2025 baseline network; ``weights``: a state dict file to load (strict
    keys; a Lightning checkpoint's ``state_dict`` with its ``model.`` prefix also works)."""
    config = {**BASELINE, **sizes}
    model = CPMobile(num_classes=num_classes, in_channels=int(input_shape[0]), **config)
    if weights:
        load_weights(model, weights, prefix="model.", what="the DCASE 2024 baseline network")
    return model
