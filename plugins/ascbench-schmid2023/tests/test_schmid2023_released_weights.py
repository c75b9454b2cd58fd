"""The released checkpoint itself, when it is available (skipped otherwise).

The project does not ship the released weights: set ``ASCBENCH_CPMOBILE_WEIGHTS`` to the
checkpoint file (default ``/work/shared/weights/cpmobile/cpmobile_dcase23_c0a7nzin_epoch149.ckpt``).
The logic is covered by test_schmid2023.py on a generated checkpoint; this file confirms it on
the real one, and scripts/realclips.py measures it on real recordings.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
from ascbench_schmid2023.cp_mobile import cp_mobile
from ascbench_schmid2023.plugin import RELEASED_CHECKPOINT, RELEASED_SHA256
from reference import authors_features, authors_logits

from ascbench.checkpoints import read_state_dict
from ascbench.frontends.presets import preset

PATH = Path(
    os.environ.get(
        "ASCBENCH_CPMOBILE_WEIGHTS", f"/work/shared/weights/cpmobile/{RELEASED_CHECKPOINT}"
    )
)
pytestmark = pytest.mark.skipif(
    not PATH.is_file(), reason=f"released CP-Mobile checkpoint not found at {PATH}"
)


def test_released_checkpoint_loads_strictly_and_matches_the_authors_path():
    assert hashlib.sha256(PATH.read_bytes()).hexdigest() == RELEASED_SHA256
    model = cp_mobile(weights=str(PATH)).eval()
    state = read_state_dict(PATH, prefix="model.")
    gen = torch.Generator().manual_seed(0)
    audio = 0.05 * torch.randn(4, 32000, generator=gen)
    with torch.no_grad():
        ours = model(preset("cpmobile")(audio))
        theirs = authors_logits(state, authors_features(audio).unsqueeze(1))
    assert torch.equal(ours.argmax(1), theirs.argmax(1))
    assert float((ours - theirs).abs().max()) < 1e-3
