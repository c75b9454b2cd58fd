"""Training audio held in memory, for recipes that augment waveforms before the frontend.

The feature cache stores features, which a waveform augmentation (a device impulse response,
a waveform roll) cannot change. A recipe with such an augmentation trains on features computed
on the fly instead: :class:`AudioStore` keeps the training split's audio (float16, at the
frontend's sample rate) keyed by file name, and the trainer turns each batch into features
after augmenting it (:meth:`ascbench.training.parts.TrainingParts.features_of`). The test
split and validation still read the cache.

Measured cost (scripts/ and the README): the CP-Mobile frontend takes about 2 ms per 1-s clip
on one thread, against about 12 ms per clip for CP-Mobile's own training step.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ascbench.data.base import Dataset
from ascbench.errors import AscbenchError
from ascbench.progress import bar as progress_bar

#: Refuse to hold more training audio than this in memory (float16 bytes).
MAX_BYTES = 12 * 2**30


class AudioStoreError(AscbenchError):
    """The training audio cannot be held for waveform augmentation."""


class AudioStore:
    """Audio ``(n, samples)`` float16 keyed by file name; :meth:`get` gives float32 rows."""

    def __init__(self, audio: np.ndarray, filenames: Sequence[str], sample_rate: int) -> None:
        self.audio = audio
        self.sample_rate = int(sample_rate)
        self.rows = {name: i for i, name in enumerate(filenames)}

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, filenames: Sequence[str]) -> torch.Tensor:
        missing = [f for f in filenames if f not in self.rows]
        if missing:
            raise AudioStoreError(
                f"no training audio for {missing[0]} (and {len(missing) - 1} more); the audio "
                "store holds the training split only"
            )
        rows = np.fromiter((self.rows[f] for f in filenames), dtype=np.int64)
        return torch.from_numpy(self.audio[rows].astype(np.float32))


def load_audio_store(
    dataset: Dataset, split: str, sample_rate: int, *, workers: int = 2, progress: bool = True
) -> AudioStore:
    """The audio of ``dataset``'s ``split`` at ``sample_rate`` (each clip padded or cut to the
    dataset's clip length), decoded by ``workers`` threads."""
    clips = dataset.splits[split]
    samples = max(1, int(round(dataset.clip_seconds * sample_rate)))
    needed = len(clips) * samples * 2
    if needed > MAX_BYTES:
        raise AudioStoreError(
            f"waveform augmentation on {len(clips):,} clips needs {needed / 2**30:.1f} GiB of "
            f"audio in memory (limit {MAX_BYTES / 2**30:.0f} GiB); train on a smaller split "
            "(--split) or drop the waveform augmentation"
        )
    from ascbench.features.cache import _decoded_batches  # the feature cache's decoder

    audio = np.zeros((len(clips), samples), dtype=np.float16)
    bar = progress_bar(total=len(clips), desc="training audio", unit="clip",
                       disable=None if progress else True)  # fmt: skip
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for start, wave, _ in _decoded_batches(pool, dataset, clips, 0, 256, samples,
                                               sample_rate, depth=max(2, workers)):  # fmt: skip
            audio[start : start + len(wave)] = wave
            bar.update(len(wave))
    bar.close()
    return AudioStore(audio, [c.filename for c in clips], sample_rate)
