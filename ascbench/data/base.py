"""What every dataset loader returns: a list of clips with their metadata and split."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class Clip(BaseModel):
    """One audio file of a dataset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str = Field(description="Path relative to the dataset root, e.g. 'audio/x.wav'. "
                          "This is the clip's key everywhere (caches, teacher outputs, CSVs).")
    scene_label: str | None = Field(None, description="None for unlabelled (evaluation) clips.")
    device: str | None = None
    city: str | None = None
    identifier: str | None = Field(None, description="Recording location, '<city>-<location>'.")
    parent: str | None = Field(
        None, description="For 1-s clips: filename of the 10-s recording it was cut from."
    )


class Dataset(BaseModel):
    """A dataset ready to use: its root, clip length, and the clips of each split."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="e.g. 'tau2022-mobile-dev', 'synthetic-tau2022', 'folder'.")
    root: Path
    sample_rate: int = Field(description="Native sample rate of the files (frontends resample).")
    clip_seconds: float
    splits: dict[str, list[Clip]] = Field(
        description="'train' and 'test' at least; 'test' is the labelled evaluation split."
    )
    notes: list[str] = Field(default_factory=list, description="What the loader noticed.")
    content_hash: str | None = Field(
        None,
        description="SHA-256 of the files' contents as generated (synthetic data records "
        "it); the fingerprint uses each file's digest as it is now, not this claim.",
    )

    _digests: dict[str, str] | None = PrivateAttr(default=None)

    def path(self, clip: Clip) -> Path:
        return self.root / clip.filename

    def digests(self) -> dict[str, str]:
        """Every listed file's content digest by file name (:mod:`ascbench.data.digests`:
        hashed once, then re-hashed only when its size, times or inode change); computed once
        per Dataset object."""
        if self._digests is None:
            from ascbench.data.digests import file_digests

            names = sorted({c.filename for clips in self.splits.values() for c in clips})
            self._digests = dict(zip(names, file_digests(self.root, names), strict=True))
        return self._digests

    def fingerprint(self) -> str:
        """A hash of the dataset's identity: name, clip list, labels and every file's content
        digest, so that it changes whenever one byte of one file does."""
        h = hashlib.sha256(f"{self.name}|{self.sample_rate}|{self.clip_seconds}".encode())
        digests = self.digests()
        for split in sorted(self.splits):
            for clip in self.splits[split]:
                h.update(f"{split}|{clip.filename}|{clip.scene_label}|{clip.device}".encode())
                h.update(f"|{digests[clip.filename]}".encode())
        return h.hexdigest()[:16]
