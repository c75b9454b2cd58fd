"""Helpers for the data tests: tiny TAU-layout folders and a tiny synthetic config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ascbench.data.synth import SynthConfig

#: (split, stem without device, device) of the fake TAU sets; scene and location are in the stem.
ROWS_2022 = [
    ("train", "airport-lisbon-1000-40000-0", "a"),
    ("train", "airport-lisbon-1000-40000-1", "a"),
    ("train", "bus-paris-20-500-0", "b"),
    ("train", "bus-paris-20-500-1", "b"),
    ("train", "park-helsinki-30-600-0", "s1"),
    ("test", "airport-barcelona-203-6129-0", "a"),
    ("test", "airport-barcelona-203-6129-1", "a"),
    ("test", "airport-barcelona-203-6129-0", "s4"),
    ("test", "tram-vienna-7-70-0", "c"),
]
ROWS_2020 = [(s, stem.rsplit("-", 1)[0], d) for s, stem, d in ROWS_2022 if stem.endswith("-0")]


def write_wav(path: Path, seconds: float = 1.0, sample_rate: int = 8000, channels: int = 1,
              subtype: str = "PCM_16", seed: int = 0) -> Path:
    """A short noise file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    data = 0.1 * rng.standard_normal((int(seconds * sample_rate), channels))
    sf.write(str(path), data, sample_rate, subtype=subtype)
    return path


def write_text(path: Path, lines: list[str], crlf: bool = False, final_newline: bool = True
               ) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    eol = "\r\n" if crlf else "\n"
    path.write_bytes((eol.join(lines) + (eol if final_newline else "")).encode())


def build_tau(root: Path, year: str = "2022", *, crlf: bool = False, final_newline: bool = True,
              audio: bool = True, meta: bool = True, setup: bool = True) -> Path:
    """A tiny TAU development set in the official layout (8-kHz audio to stay small)."""
    rows = ROWS_2022 if year == "2022" else ROWS_2020
    seconds = 1.0 if year == "2022" else 10.0
    names = [(split, f"audio/{stem}-{dev}.wav", stem, dev) for split, stem, dev in rows]
    root.mkdir(parents=True, exist_ok=True)
    if audio:
        for i, (_, name, _, _) in enumerate(names):
            write_wav(root / name, seconds, seed=i)
    if meta:
        lines = ["filename\tscene_label\tidentifier\tsource_label"]
        for _, name, stem, dev in names:
            scene, city, loc = stem.split("-")[:3]
            lines.append(f"{name}\t{scene}\t{city}-{loc}\t{dev}")
        write_text(root / "meta.csv", lines, crlf, final_newline)
    if setup:
        for split, fname in (("train", "fold1_train.csv"), ("test", "fold1_evaluate.csv")):
            lines = ["filename\tscene_label"] + [
                f"{name}\t{stem.split('-')[0]}" for s, name, stem, _ in names if s == split
            ]
            write_text(root / "evaluation_setup" / fname, lines, crlf, final_newline)
        write_text(root / "evaluation_setup" / "fold1_test.csv",
                   ["filename"] + [n for s, n, _, _ in names if s == "test"], crlf, final_newline)
    return root


#: A small synthetic config: 4 scenes, 28 train + 36 test 1-s clips.
TINY = SynthConfig(style="tau2022", scenes=("bus", "metro", "park", "street_traffic"),
                   locations_train=2, locations_test=1, train_a=2, train_per_device=1,
                   test_per_device=1, slices=1, seed=7)
