"""A synthetic, TAU-shaped acoustic scene dataset: small, deterministic, learnable, not trivial.

:func:`synthesize` writes a dataset in the exact layout and file-name grammar of the TAU Urban
Acoustic Scenes 2020 Mobile (``style="tau2020"``, 10-s clips) or 2022 Mobile (``"tau2022"``,
1-s clips) development sets::

    OUT/audio/<scene>-<city>-<location>-<segment>-<device>.wav        (tau2020)
    OUT/audio/<scene>-<city>-<location>-<segment>-<k>-<device>.wav    (tau2022, k = 1-s slice)
    OUT/meta.csv                        filename, scene_label, identifier, source_label
    OUT/evaluation_setup/fold1_train.csv, fold1_evaluate.csv (filename, scene_label)
    OUT/evaluation_setup/fold1_test.csv (filename)
    OUT/split_setup/split{5,10,25,50,100}.csv, test.csv   (tau2022 only, DCASE 2024 style)
    OUT/synthetic.json                  generator version and parameters

All WAVs are 44.1 kHz mono 24-bit. How the sound is made:

* **Scenes.** Each of the ten scenes has a profile: a coloured background noise bed (spectral
  slope plus broad resonances, slowly modulated), optional tonal machinery hum with harmonics
  (engines, motors, ventilation), transient events with scene-specific rates and spectra
  (voices, footsteps, rail clacks, brake squeal, door beeps, chimes, bells, birds, car passes,
  horns, luggage, clatter, music, air-brake hiss, wind) and reverberation for indoor scenes
  (large halls for airport / mall / metro station, small cabins for bus / metro / tram).
  Related scenes share ingredients (e.g. metro and tram, street_pedestrian and public_square),
  so they overlap.
* **Variation.** Every recording location draws its own version of its scene's profile
  (resonance frequencies and gains, slope, hum pitch and level, event rates, reverberation
  time, level) and one or two "distractor" event types from other scenes; every 10-s segment
  and every clip varies further (random events, level and colour jitter).
* **Devices.** Every segment is rendered once and "recorded" on several devices, as TAU's
  parallel recordings: ``a`` (near-flat), ``b`` and ``c`` (band-limited consumer devices with
  resonances, self-noise and a per-recording position difference), ``s1``…``s6`` (simulated:
  distinct FIR equalisation, sensitivity, dynamic range compression, for some mild
  saturation). ``s4``–``s6`` appear only in the test split, as in TAU.
* **Splits.** Train and test are location-disjoint. Train has many device-``a`` segments and a
  few parallel copies on ``b``, ``c``, ``s1``–``s3``; test has the same number of recordings on
  each of the nine devices.

Output is byte-identical for the same :class:`SynthConfig` on the same platform (all
randomness is drawn from ``numpy.random.SeedSequence((seed, ...))`` keyed by location,
segment, slice and device, so it does not depend on generation order).

Numbers measured on this data are **not** comparable with DCASE results on TAU data.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.fft import irfft, next_fast_len, rfft, rfftfreq
from scipy.signal import fftconvolve, lfilter

from ascbench.errors import DatasetError
from ascbench.machine import machine_cores
from ascbench.scenes import DEVICES, SCENES

#: Bump whenever the generated audio or layout changes (part of the cache key).
SYNTH_VERSION = 1
SAMPLE_RATE = 44100
FS = SAMPLE_RATE
Style = Literal["tau2022", "tau2020"]
STYLES: tuple[str, ...] = ("tau2022", "tau2020")
#: Cities of the TAU development sets.
CITIES: tuple[str, ...] = (
    "barcelona", "helsinki", "lisbon", "london", "lyon",
    "milan", "paris", "prague", "stockholm", "vienna",
)  # fmt: skip
TRAIN_DEVICES: tuple[str, ...] = ("a", "b", "c", "s1", "s2", "s3")
#: Devices recorded in parallel with ``a`` in the training split.
TRAIN_OTHER_DEVICES: tuple[str, ...] = ("b", "c", "s1", "s2", "s3")
SPLIT_PERCENTS: tuple[int, ...] = (5, 10, 25, 50, 100)

_PAD_START = 0.5  # seconds rendered before a clip (reverb build-up, filter settling)
_PAD_END = 0.05


class SynthConfig(BaseModel):
    """Size, style and seed of a synthetic dataset. Counts are per scene."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    style: Style = "tau2022"
    seed: int = Field(0, ge=0)
    locations_train: int = Field(6, ge=1, description="Training locations per scene.")
    locations_test: int = Field(3, ge=1, description="Test locations per scene.")
    train_a: int = Field(30, ge=1, description="Device-a training segments per scene.")
    train_per_device: int = Field(
        3, ge=0, description="Training recordings per scene on each of b, c, s1, s2, s3 "
        "(parallel copies of device-a segments)."
    )
    test_per_device: int = Field(2, ge=1, description="Test recordings per scene per device.")
    slices: int = Field(
        2, ge=1, le=10, description="tau2022 only: how many of the ten 1-s slices of each 10-s "
        "recording are kept (10 = every slice, as in TAU)."
    )
    scenes: tuple[str, ...] = Field(
        SCENES, description="Scene classes to generate (default: all ten; a subset makes quick "
        "test sets)."
    )
    location_spread: float = Field(
        0.75, ge=0.0, le=3.0, description="How much recording locations of one scene differ "
        "(scales the per-location random variation; higher = harder, more location shift)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SynthConfig:
        unknown = [sc for sc in self.scenes if sc not in SCENES]
        if unknown or not self.scenes or len(set(self.scenes)) != len(self.scenes):
            raise ValueError(
                f"scenes must be distinct names from {', '.join(SCENES)} (got "
                f"{', '.join(self.scenes) or 'none'})"
            )
        if self.train_a < self.locations_train:
            raise ValueError(
                f"train_a ({self.train_a}) must be at least locations_train "
                f"({self.locations_train}): every location needs a segment"
            )
        if self.train_per_device > self.train_a:
            raise ValueError(
                f"train_per_device ({self.train_per_device}) cannot exceed train_a "
                f"({self.train_a}): they are parallel copies of device-a segments"
            )
        return self

    @classmethod
    def default(cls, style: str = "tau2022", **overrides: object) -> SynthConfig:
        """The default size for a style (tau2022: 900 train / 360 test 1-s clips;
        tau2020: 300 train / 180 test 10-s clips)."""
        if style not in STYLES:
            raise DatasetError(f"unknown synthetic style '{style}'; use one of {', '.join(STYLES)}")
        base: dict[str, object] = {"style": style, "locations_train": 6, "train_per_device": 3}
        if style == "tau2020":
            base.update(locations_train=5, locations_test=3, train_a=20, train_per_device=2,
                        test_per_device=2, slices=1)  # fmt: skip
        base.update(overrides)
        # a smaller train_a shrinks the defaults that depend on it (not explicit overrides)
        train_a = int(base.get("train_a", 30))  # type: ignore[call-overload]
        for name in ("locations_train", "train_per_device"):
            if name not in overrides:
                base[name] = min(int(base[name]), train_a)  # type: ignore[call-overload]
        return cls.model_validate(base)

    @property
    def clip_seconds(self) -> float:
        return 1.0 if self.style == "tau2022" else 10.0

    def key(self) -> str:
        """A short hash of the generator version and every parameter (cache folder names)."""
        payload = json.dumps({"version": SYNTH_VERSION, **self.model_dump()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def expected_counts(self) -> dict[str, int]:
        """Number of clips per split this config produces."""
        per_rec = self.slices if self.style == "tau2022" else 1
        train = len(self.scenes) * (self.train_a + len(TRAIN_OTHER_DEVICES) * self.train_per_device)
        test = len(self.scenes) * len(DEVICES) * self.test_per_device
        return {"train": train * per_rec, "test": test * per_rec}


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Segment:
    """One 10-s recording position in time, and the devices that recorded it."""

    scene: str
    city: str
    location: int
    segment: int
    split: str  # 'train' or 'test'
    devices: tuple[str, ...]
    slices: tuple[int, ...]  # 1-s slice indices kept (tau2022); (0,) for tau2020

    @property
    def identifier(self) -> str:
        return f"{self.city}-{self.location}"

    def parent_key(self, device: str) -> str:
        """The 10-s recording on ``device`` (TAU 2020 stem)."""
        return f"{self.scene}-{self.city}-{self.location}-{self.segment}-{device}"

    def filename(self, device: str, k: int | None, style: str) -> str:
        stem = f"{self.scene}-{self.city}-{self.location}-{self.segment}"
        if style == "tau2022":
            return f"audio/{stem}-{k}-{device}.wav"
        return f"audio/{stem}-{device}.wav"


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence((int(seed), *map(int, key))))


_TAG_PLAN, _TAG_LOC, _TAG_SEG, _TAG_CLIP, _TAG_DEV = range(1, 6)


def plan(config: SynthConfig) -> list[Segment]:
    """Every segment of the dataset: scene, city, location, split and recording devices."""
    rng = _rng(config.seed, _TAG_PLAN)
    segments: list[Segment] = []
    next_location = int(rng.integers(0, 50))
    next_segment = int(rng.integers(0, 500))
    n_slices = config.slices if config.style == "tau2022" else 1

    def slices() -> tuple[int, ...]:
        if config.style != "tau2022":
            return (0,)
        return tuple(sorted(int(k) for k in rng.choice(10, size=n_slices, replace=False)))

    for scene in config.scenes:
        for split, n_loc in (("train", config.locations_train), ("test", config.locations_test)):
            locs = []
            for _ in range(n_loc):
                locs.append((str(rng.choice(CITIES)), next_location))
                next_location += int(rng.integers(1, 4))
            if split == "train":
                n_seg = config.train_a
                devices: list[set[str]] = [{"a"} for _ in range(n_seg)]
                for dev in TRAIN_OTHER_DEVICES:
                    for i in rng.choice(n_seg, size=config.train_per_device, replace=False):
                        devices[int(i)].add(dev)
            else:
                t = config.test_per_device
                n_seg = max(config.locations_test, math.ceil(len(DEVICES) * t / 3), t)
                devices = [set() for _ in range(n_seg)]
                for dev in DEVICES:
                    offset = int(rng.integers(0, n_seg))
                    for j in range(t):
                        devices[(offset + j) % n_seg].add(dev)
            for i in range(n_seg):
                if not devices[i]:
                    continue
                city, loc = locs[i % n_loc]
                segments.append(
                    Segment(
                        scene=scene, city=city, location=loc, segment=next_segment, split=split,
                        devices=tuple(d for d in DEVICES if d in devices[i]), slices=slices(),
                    )
                )
                next_segment += int(rng.integers(1, 6))
    return segments


# --------------------------------------------------------------------------- signal helpers


def _curve_db(
    f: np.ndarray,
    slope: float,
    bumps: list[tuple[float, float, float]],
    f_lo: float,
    f_hi: float,
    lo_order: float = 12.0,
    hi_order: float = 18.0,
) -> np.ndarray:
    """A smooth magnitude response in dB: slope per octave around 1 kHz, Gaussian bumps on a
    log-frequency axis (centre Hz, gain dB, width octaves) and roll-offs below f_lo / above f_hi."""
    f = np.maximum(f, 1.0)
    lf = np.log2(f)
    db = slope * (lf - np.log2(1000.0))
    for fc, gain, bw in bumps:
        db = db + gain * np.exp(-0.5 * ((lf - np.log2(fc)) / bw) ** 2)
    db = db - lo_order * np.maximum(0.0, np.log2(f_lo) - lf)
    db = db - hi_order * np.maximum(0.0, lf - np.log2(f_hi))
    return db


def _noise_spectrum(rng: np.random.Generator, m: int) -> np.ndarray:
    spec = rng.standard_normal((2, m // 2 + 1))
    return spec[0] + 1j * spec[1]


def _shaped_noise(rng: np.random.Generator, n: int, db: Callable[[np.ndarray], np.ndarray]
                  ) -> np.ndarray:
    """Gaussian noise of ``n`` samples with magnitude response ``db(f)`` and unit RMS."""
    m = next_fast_len(n, real=True)
    return _noise_with_gain(rng, n, m, 10.0 ** (db(rfftfreq(m, 1.0 / FS)) / 20.0))


def _noise_with_gain(rng: np.random.Generator, n: int, m: int, gain: np.ndarray) -> np.ndarray:
    spec = _noise_spectrum(rng, m) * gain
    spec[0] = 0.0
    x = irfft(spec, m)[:n]
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


@lru_cache(maxsize=512)
def _band_gain(m: int, lo: float, hi: float, slope: float) -> np.ndarray:
    return 10.0 ** (_curve_db(rfftfreq(m, 1.0 / FS), slope, [], lo, hi, 24.0, 24.0) / 20.0)


def _band_noise(rng: np.random.Generator, n: int, lo: float, hi: float, slope: float = 0.0
                ) -> np.ndarray:
    """Unit-RMS noise between ``lo`` and ``hi`` Hz (24 dB/octave skirts), tilted by ``slope``."""
    m = next_fast_len(n, real=True)
    return _noise_with_gain(rng, n, m, _band_gain(m, float(lo), float(hi), float(slope)))


def _smooth(rng: np.random.Generator, n: int, rate_hz: float, fs: int = SAMPLE_RATE) -> np.ndarray:
    """A smooth random process with unit variance, changing about ``rate_hz`` times a second."""
    n_knots = int(math.ceil(n / fs * rate_hz)) + 2
    knots = rng.standard_normal(n_knots)
    return np.interp(np.arange(n) * (rate_hz / fs), np.arange(n_knots), knots)


def _harmonic(phase: np.ndarray, amps: np.ndarray, phases: np.ndarray,
              table_size: int = 16384) -> np.ndarray:
    """Sum of harmonics ``a_h sin(h*phase + phi_h)``, looked up in a one-period table."""
    amps = np.asarray(amps, dtype=np.float64)
    spec = np.zeros(table_size // 2 + 1, dtype=np.complex128)
    h = min(len(amps), table_size // 2 - 1)
    spec[1 : h + 1] = -0.5j * table_size * amps[:h] * np.exp(1j * np.asarray(phases[:h]))
    table = irfft(spec, table_size)
    idx = (phase * (table_size / (2 * np.pi))).astype(np.int64) & (table_size - 1)
    return table[idx]


def _env(n: int, attack: float, decay: float, fs: int = SAMPLE_RATE) -> np.ndarray:
    """Attack ramp then exponential decay (time constants in seconds)."""
    t = np.arange(n) / fs
    a = np.minimum(1.0, t / max(attack, 1e-4))
    return a * np.exp(-np.maximum(0.0, t - attack) / max(decay, 1e-4))


def _hann(n: int) -> np.ndarray:
    return np.sin(np.pi * (np.arange(n) + 0.5) / n) ** 2


def _rms_norm(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


# --------------------------------------------------------------------------- events
# Each event function returns a unit-RMS float64 signal of its own length.


def _ev_voice(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A voiced syllable (harmonics through vowel formants), sometimes several in a row."""
    n_syl = int(rng.integers(1, 4))
    parts = []
    f0_base = p.get("f0", rng.choice([rng.uniform(95, 140), rng.uniform(170, 250)]))
    for _ in range(n_syl):
        n = int(rng.uniform(0.12, 0.35) * FS)
        f0 = f0_base * np.exp(rng.normal(0, 0.08))
        contour = f0 * (1 + rng.uniform(-0.15, 0.15) * np.linspace(-1, 1, n))
        phase = 2 * np.pi * np.cumsum(contour) / FS
        n_h = int(min(40, 4500 // f0))
        hf = f0 * np.arange(1, n_h + 1)
        formants = [(rng.uniform(300, 850), 90), (rng.uniform(850, 2300), 120),
                    (rng.uniform(2400, 3100), 180)]  # fmt: skip
        w = sum(10 ** (-0.4 * i) * np.exp(-0.5 * ((hf - fc) / bw) ** 2)
                for i, (fc, bw) in enumerate(formants))
        w = w + 0.02
        x = _harmonic(phase, w / hf**0.3, rng.uniform(0, 2 * np.pi, n_h))
        x += 0.05 * _band_noise(rng, n, 2000, 7000)
        parts.append(x * _hann(n))
        parts.append(np.zeros(int(rng.uniform(0.03, 0.15) * FS)))
    return _rms_norm(np.concatenate(parts))


def _ev_steps(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A walker: 3-8 footsteps (short decaying noise bursts) about half a second apart."""
    n_steps = int(rng.integers(3, 9))
    period = rng.uniform(0.42, 0.62)
    bright = p.get("bright", 2500.0) * np.exp(rng.normal(0, 0.2))
    n = int((n_steps * period + 0.2) * FS)
    x = np.zeros(n)
    for i in range(n_steps):
        m = int(rng.uniform(0.04, 0.09) * FS)
        burst = _band_noise(rng, m, 120, bright, -2) * _env(m, 0.002, rng.uniform(0.008, 0.02))
        start = int((i * period + rng.normal(0, 0.02) + 0.05) * FS)
        start = min(max(start, 0), n - m)
        x[start : start + m] += burst * np.exp(rng.normal(0, 0.3))
    return _rms_norm(x)


def _ev_clack(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Wheels over a rail joint: pairs of low thumps with a short metallic ring."""
    n_pairs = int(rng.integers(1, 4))
    gap = rng.uniform(0.015, 0.035)
    spacing = rng.uniform(0.12, 0.3)
    n = int((n_pairs * spacing + 0.2) * FS)
    x = np.zeros(n)
    ring_f = p.get("ring", 1800.0) * np.exp(rng.normal(0, 0.1))
    for i in range(n_pairs):
        for j in range(2):
            m = int(0.08 * FS)
            t = np.arange(m) / FS
            thump = _band_noise(rng, m, 50, 700, -3) * _env(m, 0.001, 0.025)
            ring = 0.3 * np.sin(2 * np.pi * ring_f * t) * _env(m, 0.001, 0.03)
            start = int((i * spacing + j * gap + 0.02) * FS)
            x[start : start + m] += thump + ring
    return _rms_norm(x)


def _ev_squeal(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Brake or wheel squeal: a high tone with vibrato and a harmonic."""
    n = int(rng.uniform(0.4, 1.8) * FS)
    f = p.get("squeal", 3000.0) * np.exp(rng.normal(0, 0.25))
    vib = 1 + rng.uniform(0.005, 0.025) * np.sin(2 * np.pi * rng.uniform(4, 9) * np.arange(n) / FS)
    phase = 2 * np.pi * np.cumsum(f * vib) / FS
    x = _harmonic(phase, np.array([1.0, rng.uniform(0.1, 0.5)]), rng.uniform(0, 6, 2))
    am = np.clip(1 + 0.5 * _smooth(rng, n, 6), 0.1, None)
    return _rms_norm(x * am * _env(n, 0.08, n / FS / 2.5))


def _ev_chime(rng: np.random.Generator, p: dict) -> np.ndarray:
    """An announcement chime: 2-4 bell-like notes on a scale."""
    base = p.get("chime", 700.0) * np.exp(rng.normal(0, 0.05))
    steps = rng.choice([0, 3, 4, 5, 7, 9, 12], size=int(rng.integers(2, 5)))
    note = int(0.45 * FS)
    x = np.zeros(note * (len(steps) + 2))
    t = np.arange(note * 3) / FS
    for i, s in enumerate(steps):
        f = base * 2 ** (s / 12)
        tone = (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t)
                + 0.1 * np.sin(2 * np.pi * 3 * f * t)) * _env(len(t), 0.005, 0.35)
        x[i * note : i * note + len(t)] += tone[: len(x) - i * note]
    return _rms_norm(x)


def _ev_beep(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Door-closing beeps: 2-6 short tones."""
    f = p.get("beep", 2200.0) * np.exp(rng.normal(0, 0.08))
    n_b = int(rng.integers(2, 7))
    on, off = int(rng.uniform(0.07, 0.16) * FS), int(rng.uniform(0.08, 0.2) * FS)
    t = np.arange(on) / FS
    beep = (np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 3 * f * t)) * _hann(on) ** 0.2
    return _rms_norm(np.concatenate([np.concatenate([beep, np.zeros(off)])] * n_b))


def _ev_bell(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A tram bell: inharmonic partials, one to three strikes."""
    f = p.get("bell", 900.0) * np.exp(rng.normal(0, 0.05))
    n = int(rng.uniform(0.6, 1.2) * FS)
    t = np.arange(n) / FS
    partials = np.array([1.0, 2.76, 5.40, 8.93])
    amps = np.array([1.0, 0.6, 0.35, 0.2])
    one = sum(a * np.sin(2 * np.pi * f * r * t) * np.exp(-t * (2 + 3 * i))
              for i, (r, a) in enumerate(zip(partials, amps, strict=True)))
    strikes = int(rng.integers(1, 4))
    gap = int(rng.uniform(0.15, 0.3) * FS)
    x = np.zeros(n + gap * strikes)
    for i in range(strikes):
        x[i * gap : i * gap + n] += one
    return _rms_norm(x)


def _ev_bird(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A bird song: 3-10 fast frequency sweeps."""
    n_c = int(rng.integers(3, 11))
    lo, hi = p.get("bird", (2200.0, 6500.0))
    f_a, f_b = rng.uniform(lo, hi, 2)
    dur = rng.uniform(0.03, 0.1)
    gap = rng.uniform(0.04, 0.14)
    n1 = int(dur * FS)
    f = np.linspace(f_a, f_b, n1)
    chirp = np.sin(2 * np.pi * np.cumsum(f) / FS) * _hann(n1)
    x = np.concatenate([np.concatenate([chirp * rng.uniform(0.5, 1.0), np.zeros(int(gap * FS))])
                        for _ in range(n_c)])
    return _rms_norm(x)


def _ev_car(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A passing vehicle: tyre noise and engine harmonics swelling and fading, Doppler shift."""
    n = int(rng.uniform(2.0, 5.0) * FS)
    t = np.arange(n) / FS
    centre, width = t[-1] / 2, t[-1] / rng.uniform(4, 7)
    env = np.exp(-0.5 * ((t - centre) / width) ** 2)
    tyre = _shaped_noise(rng, n, lambda f: _curve_db(f, -5, [(900, 5, 0.7)], 60, 6000))
    f0 = rng.uniform(25, 70) * (1 + 0.06 * np.tanh(-(t - centre) / (width / 2)))
    engine = _harmonic(2 * np.pi * np.cumsum(f0) / FS, 0.7 ** np.arange(12), rng.uniform(0, 6, 12))
    return _rms_norm((tyre + rng.uniform(0.3, 1.5) * _rms_norm(engine)) * env)


def _ev_horn(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A car horn: two detuned harmonic tones."""
    n = int(rng.uniform(0.25, 0.9) * FS)
    t = np.arange(n) / FS
    x = np.zeros(n)
    for f in (rng.uniform(380, 440), rng.uniform(470, 540)):
        x += _harmonic(2 * np.pi * f * t, 0.8 ** np.arange(10), rng.uniform(0, 6, 10))
    return _rms_norm(x * _env(n, 0.01, 5.0) * _hann(n) ** 0.1)


def _ev_luggage(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A rolling suitcase: mid-band rumble with fast wheel clicks."""
    n = int(rng.uniform(1.0, 3.0) * FS)
    rate = rng.uniform(8, 16)
    am = 0.6 + 0.4 * (np.sin(2 * np.pi * rate * np.arange(n) / FS) > 0.7)
    return _rms_norm(_band_noise(rng, n, 200, 1800, -3) * am * _hann(n) ** 0.5)


def _ev_clatter(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Dishes, carts, keys: a handful of bright clicks."""
    n = int(rng.uniform(0.3, 0.8) * FS)
    x = np.zeros(n)
    for _ in range(int(rng.integers(3, 11))):
        m = int(rng.uniform(0.005, 0.02) * FS)
        s = int(rng.integers(0, n - m))
        f = rng.uniform(2500, 7000)
        x[s : s + m] += np.sin(2 * np.pi * f * np.arange(m) / FS) * _env(m, 0.0005, 0.004)
    return _rms_norm(x + 0.05 * _band_noise(rng, n, 2000, 8000))


def _ev_music(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Background music: a sustained three-note chord changing every second or two."""
    n_chords = int(rng.integers(2, 5))
    m = int(rng.uniform(1.0, 2.0) * FS)
    t = np.arange(m) / FS
    out = []
    for _ in range(n_chords):
        root = 220 * 2 ** (int(rng.integers(0, 12)) / 12)
        chord = sum(_harmonic(2 * np.pi * root * 2 ** (s / 12) * t, 0.5 ** np.arange(6),
                              rng.uniform(0, 6, 6)) for s in (0, 4, 7))
        out.append(chord * _hann(m) ** 0.3)
    return _rms_norm(np.concatenate(out))


def _ev_hiss(rng: np.random.Generator, p: dict) -> np.ndarray:
    """Air brakes or doors: a burst of high-pass noise."""
    n = int(rng.uniform(0.3, 0.9) * FS)
    return _rms_norm(_band_noise(rng, n, 2500, 12000) * _env(n, 0.01, n / FS / 3))


def _ev_wind(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A gust of wind: low-frequency noise swelling and fading."""
    n = int(rng.uniform(1.0, 3.5) * FS)
    return _rms_norm(_band_noise(rng, n, 20, 400, -6) * _hann(n))


def _ev_train(rng: np.random.Generator, p: dict) -> np.ndarray:
    """A train arriving or leaving: low rumble with a rising motor whine."""
    n = int(rng.uniform(2.5, 5.0) * FS)
    t = np.arange(n) / FS
    rumble = _shaped_noise(rng, n, lambda f: _curve_db(f, -7, [(90, 8, 0.6)], 30, 3000))
    f0 = rng.uniform(150, 300) * (1 + 0.6 * t / t[-1])
    whine = _harmonic(2 * np.pi * np.cumsum(f0) / FS, np.array([1.0, 0.5, 0.3]), np.zeros(3))
    return _rms_norm((rumble + 0.3 * whine) * _hann(n))


EVENTS: dict[str, Callable[[np.random.Generator, dict], np.ndarray]] = {
    "voice": _ev_voice, "steps": _ev_steps, "clack": _ev_clack, "squeal": _ev_squeal,
    "chime": _ev_chime, "beep": _ev_beep, "bell": _ev_bell, "bird": _ev_bird, "car": _ev_car,
    "horn": _ev_horn, "luggage": _ev_luggage, "clatter": _ev_clatter, "music": _ev_music,
    "hiss": _ev_hiss, "wind": _ev_wind, "train": _ev_train,
}  # fmt: skip


# --------------------------------------------------------------------------- scene profiles


@dataclass(frozen=True)
class SceneProfile:
    """The recipe of one scene; locations perturb every number."""

    slope: float  # background colour, dB per octave
    bumps: tuple[tuple[float, float, float], ...]  # (Hz, dB, octaves)
    band: tuple[float, float]  # background roll-off corners, Hz
    mod: tuple[float, float]  # background level modulation: depth (dB), rate (Hz)
    hum: tuple[float, float, int, float, float] | None  # f0 lo, f0 hi, harmonics, dB, drift
    events: dict[str, tuple[float, float]]  # name -> (rate per second, level dB re background)
    reverb: tuple[float, float, float] | None  # rt60 lo, rt60 hi (s), wet level dB
    level: float  # RMS dBFS
    params: dict = field(default_factory=dict)  # event parameters (pitches etc.)


PROFILES: dict[str, SceneProfile] = {
    "airport": SceneProfile(
        -3.5, ((250, 6, 0.8), (1200, 2, 1.0)), (40, 9000), (1.5, 0.3), (95, 130, 6, -14, 0.01),
        {"voice": (1.2, 2), "steps": (0.8, -2), "luggage": (0.35, 0), "chime": (0.04, 2),
         "clatter": (0.1, -6)}, (1.4, 2.6, -2), -31, {"chime": 650.0}),
    "shopping_mall": SceneProfile(
        -3.0, ((400, 5, 0.9), (2000, 2, 0.8)), (50, 10000), (1.0, 0.3), (100, 140, 4, -18, 0.01),
        {"voice": (2.0, 3), "steps": (1.2, -1), "clatter": (0.4, -2), "music": (0.15, -3),
         "chime": (0.02, 0), "luggage": (0.08, -4)}, (1.0, 2.0, -2), -29, {"chime": 800.0}),
    "metro_station": SceneProfile(
        -3.0, ((150, 6, 0.8), (800, 2, 1.0)), (30, 9000), (2.5, 0.2), (50, 75, 8, -10, 0.01),
        {"voice": (0.8, 0), "steps": (1.2, 0), "train": (0.1, 6), "squeal": (0.06, -2),
         "chime": (0.04, 2), "beep": (0.06, -2)}, (1.2, 2.5, -1), -29,
        {"chime": 600.0, "squeal": 2500.0}),
    "metro": SceneProfile(
        -6.0, ((80, 10, 0.7), (600, 4, 0.8)), (25, 7000), (3.0, 0.5), (100, 220, 10, -4, 0.06),
        {"clack": (0.9, 3), "squeal": (0.12, 0), "beep": (0.04, 0), "voice": (0.3, -6),
         "hiss": (0.04, -4)}, (0.25, 0.6, -8), -24, {"squeal": 3200.0, "ring": 1500.0}),
    "tram": SceneProfile(
        -5.0, ((120, 7, 0.8), (1000, 3, 0.8)), (30, 8000), (2.5, 0.4), (60, 130, 8, -8, 0.05),
        {"clack": (0.5, 2), "squeal": (0.15, 0), "bell": (0.06, 0), "voice": (0.5, -4),
         "beep": (0.04, -2)}, (0.3, 0.6, -8), -26, {"squeal": 2600.0, "ring": 2200.0}),
    "bus": SceneProfile(
        -6.5, ((70, 10, 0.6), (400, 3, 0.8)), (25, 7000), (3.5, 0.3), (25, 45, 14, -3, 0.08),
        {"voice": (0.6, -3), "beep": (0.05, -2), "hiss": (0.08, 0), "clack": (0.05, -6)},
        (0.2, 0.5, -9), -25, {"beep": 1800.0}),
    "park": SceneProfile(
        -5.5, ((300, 3, 1.0),), (20, 6000), (2.0, 0.15), None,
        {"bird": (1.0, 6), "voice": (0.25, -4), "wind": (0.15, 3), "steps": (0.25, -4),
         "car": (0.03, -8)}, None, -37, {"bird": (2200.0, 6500.0)}),
    "public_square": SceneProfile(
        -4.0, ((200, 4, 0.9),), (30, 8000), (1.5, 0.2), None,
        {"voice": (1.2, 1), "steps": (1.0, 0), "bird": (0.3, 0), "car": (0.08, -2),
         "bell": (0.01, -4), "clatter": (0.08, -4)}, (0.1, 0.25, -14), -32,
        {"bird": (2500.0, 6000.0), "bell": 500.0}),
    "street_pedestrian": SceneProfile(
        -3.5, ((250, 4, 0.9), (1500, 2, 0.8)), (35, 9000), (1.5, 0.3), None,
        {"voice": (1.8, 2), "steps": (1.8, 1), "car": (0.06, -4), "clatter": (0.15, -3),
         "music": (0.03, -8), "bird": (0.08, -4)}, (0.15, 0.3, -12), -30, {}),
    "street_traffic": SceneProfile(
        -5.0, ((100, 6, 0.7), (1000, 4, 0.7)), (25, 8000), (4.0, 0.25), (30, 60, 10, -14, 0.05),
        {"car": (0.5, 4), "horn": (0.04, 0), "voice": (0.2, -6), "steps": (0.3, -6),
         "hiss": (0.03, -4)}, (0.1, 0.3, -12), -25, {}),
}  # fmt: skip


@dataclass
class LocationSound:
    """A location's own version of its scene profile (drawn once per location)."""

    slope: float
    bumps: list[tuple[float, float, float]]
    band: tuple[float, float]
    mod: tuple[float, float]
    hum: tuple[float, int, float, float, np.ndarray, np.ndarray] | None
    events: dict[str, tuple[float, float]]
    ir: np.ndarray | None
    wet: float
    level: float
    params: dict


def _location_sound(profile: SceneProfile, rng: np.random.Generator, spread: float
                    ) -> LocationSound:
    """Draw one location's version of ``profile``; ``spread`` scales how much locations differ."""
    v = spread
    bumps = [(fc * 2 ** rng.normal(0, 0.35 * v), g + rng.normal(0, 3.0 * v),
              bw * 2 ** rng.normal(0, 0.2 * v)) for fc, g, bw in profile.bumps]  # fmt: skip
    for _ in range(int(rng.integers(1, 3))):  # location-specific resonances
        bumps.append((float(np.exp(rng.uniform(np.log(80), np.log(6000)))),
                      float(rng.normal(0, 4.0 * v)), float(rng.uniform(0.3, 1.0))))
    band = (profile.band[0] * 2 ** rng.normal(0, 0.3), profile.band[1] * 2 ** rng.normal(0, 0.3))
    hum = None
    if profile.hum is not None:
        lo, hi, n_h, db, drift = profile.hum
        f0 = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        n_h = max(1, min(int(n_h + rng.integers(-2, 3)), int(8000 // f0)))
        tilt = rng.uniform(2.0, 6.0)  # dB per octave down
        amps = 10 ** (-tilt * np.log2(np.arange(1, n_h + 1)) / 20) * np.exp(rng.normal(0, 0.4, n_h))
        hum = (f0, n_h, db + rng.normal(0, 4.0 * v), drift, amps, rng.uniform(0, 2 * np.pi, n_h))
    events = {name: (rate * float(np.exp(rng.normal(0, 0.5))), lvl + rng.normal(0, 3.0 * v))
              for name, (rate, lvl) in profile.events.items()}
    # one or two distractor event types from anywhere, at low rates
    pool = [e for e in EVENTS if e not in events]
    for name in rng.choice(pool, size=int(rng.integers(1, 3)), replace=False):
        events[str(name)] = (float(rng.uniform(0.03, 0.2)), float(rng.normal(-6, 3)))
    ir, wet = None, -120.0
    if profile.reverb is not None:
        lo, hi, wet_db = profile.reverb
        ir = _room_ir(rng, float(rng.uniform(lo, hi)))
        wet = wet_db + rng.normal(0, 2.0)
    return LocationSound(
        slope=profile.slope + rng.normal(0, 1.0 * v), bumps=bumps, band=band,
        mod=(profile.mod[0] * np.exp(rng.normal(0, 0.3)), profile.mod[1]),
        hum=hum, events=events, ir=ir, wet=wet, level=profile.level + rng.normal(0, 3.0 * v),
        params=dict(profile.params),
    )  # fmt: skip


def _room_ir(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A diffuse room impulse response: exponentially decaying noise, high frequencies
    decaying faster, after a short pre-delay; unit energy."""
    n = int(min(rt60 * 1.1, 2.8) * FS)
    t = np.arange(n) / FS
    low = _band_noise(rng, n, 40, 1500) * np.exp(-6.9 * t / rt60)
    high = _band_noise(rng, n, 1500, 16000) * np.exp(-6.9 * t / (0.55 * rt60))
    ir = np.concatenate([np.zeros(int(rng.uniform(0.005, 0.03) * FS)), low + 0.7 * high])
    return ir / np.sqrt(np.sum(ir**2))


def _render_source(loc: LocationSound, rng: np.random.Generator, n: int) -> np.ndarray:
    """The scene as heard at the microphone position (before any device), ``n`` samples."""
    # background bed: location colour + per-clip jitter, slowly modulated in level
    slope = loc.slope + rng.normal(0, 0.3)
    bumps = [(fc, g + rng.normal(0, 1.0), bw) for fc, g, bw in loc.bumps]
    bed = _shaped_noise(rng, n, lambda f: _curve_db(f, slope, bumps, *loc.band))
    depth, rate = loc.mod
    bed *= 10 ** (depth * _smooth(rng, n, rate) / 20)
    dry = np.zeros(n)
    if loc.hum is not None:
        f0, n_h, db, drift, amps, phases = loc.hum
        f0 = f0 * np.exp(rng.normal(0, 0.02))
        f = f0 * (1 + drift * _smooth(rng, n, 0.5))
        hum = _rms_norm(_harmonic(2 * np.pi * np.cumsum(f) / FS, amps, phases))
        hum *= np.clip(1 + 2.0 * drift * _smooth(rng, n, 3), 0.2, None)  # engine load
        dry += hum * 10 ** ((db + rng.normal(0, 2.0)) / 20)
    seconds = n / FS
    for name, (ev_rate, ev_db) in loc.events.items():
        for _ in range(int(rng.poisson(ev_rate * seconds))):
            ev = EVENTS[name](rng, loc.params)
            gain = 10 ** ((ev_db + rng.normal(0, 4.0)) / 20)
            start = int(rng.integers(-len(ev) + 1, n))
            a, b = max(start, 0), min(start + len(ev), n)
            dry[a:b] += gain * ev[a - start : b - start]
    x = bed + dry
    if loc.ir is not None:
        x += 10 ** (loc.wet / 20) * fftconvolve(dry, loc.ir)[:n]
    level = loc.level + rng.normal(0, 2.0)
    return _rms_norm(x) * 10 ** (level / 20)


# --------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class DeviceModel:
    """How a device colours the sound: response, sensitivity, noise, dynamics."""

    bumps: tuple[tuple[float, float, float], ...]
    band: tuple[float, float]
    slope: float = 0.0
    gain: float = 0.0  # dB
    noise: float = -100.0  # self-noise RMS, dBFS
    compress: tuple[float, float] | None = None  # threshold dBFS, ratio
    drive: float = 0.0  # tanh saturation drive (0 = none)
    position_eq: float = 0.0  # dB of random per-recording EQ (hand-held real devices)


DEVICE_MODELS: dict[str, DeviceModel] = {
    "a": DeviceModel((), (15, 20000), noise=-95),
    "b": DeviceModel(((3000, 5, 0.5), (180, 2, 0.6)), (130, 12000), 0.5, -3, -68,
                     (-26, 2.0), position_eq=2.0),
    "c": DeviceModel(((1200, -4, 0.7), (5000, 5, 0.4)), (220, 9000), -0.5, 2, -64,
                     (-22, 3.0), position_eq=2.0),
    "s1": DeviceModel(((700, 6, 0.6), (4000, -6, 0.7)), (100, 14000), 0.0, 1, -85, (-24, 2.0)),
    "s2": DeviceModel(((300, -5, 0.8), (2500, 7, 0.4)), (250, 11000), 1.0, -2, -85, (-28, 3.0)),
    "s3": DeviceModel(((1500, -7, 0.6), (6000, 6, 0.5)), (80, 16000), -1.0, 3, -85, (-20, 2.0),
                      0.8),
    "s4": DeviceModel(((500, 8, 0.5), (3500, -8, 0.6)), (300, 7500), 1.5, -4, -85, (-26, 4.0)),
    "s5": DeviceModel(((900, -8, 0.5), (2000, 6, 0.4), (7000, 8, 0.5)), (150, 13000), -1.5, 4,
                      -85, (-22, 3.0), 1.5),
    "s6": DeviceModel(((250, 7, 0.6), (1800, 5, 0.5)), (400, 6000), -2.0, 0, -85, (-30, 2.5)),
}  # fmt: skip


@lru_cache(maxsize=64)
def _device_gain(dev: str, m: int) -> np.ndarray:
    model = DEVICE_MODELS[dev]
    db = _curve_db(rfftfreq(m, 1.0 / FS), model.slope, list(model.bumps), *model.band, 12.0, 24.0)
    return 10 ** ((db + model.gain) / 20)


def _apply_device(spec: np.ndarray, n: int, dev: str, rng: np.random.Generator) -> np.ndarray:
    """Record the sound at the microphone, given as ``spec = rfft(x, m)`` of ``n`` samples,
    with device ``dev``."""
    model = DEVICE_MODELS[dev]
    m = 2 * (len(spec) - 1)
    gain = _device_gain(dev, m)
    if model.position_eq:
        extra = [(float(np.exp(rng.uniform(np.log(200), np.log(8000)))),
                  float(rng.normal(0, model.position_eq)), float(rng.uniform(0.3, 1.0)))
                 for _ in range(3)]  # fmt: skip
        gain = gain * 10 ** (_curve_db(rfftfreq(m, 1.0 / FS), 0.0, extra, 1.0, 1e9, 0.0, 0.0) / 20)
    y = irfft(spec * gain, m)[:n]
    y += 10 ** (model.noise / 20) * rng.standard_normal(n)
    if model.compress is not None:
        thr, ratio = model.compress
        hop = 256
        frames = y[: n - n % hop].reshape(-1, hop)
        lvl = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        lvl = lfilter([0.2], [1, -0.8], lvl, zi=[0.8 * lvl[0]])[0]  # ~25 ms smoothing
        gain_db = -(1 - 1 / ratio) * np.maximum(0.0, lvl - thr) + 0.3 * (1 - 1 / ratio) * 6
        centres = np.arange(len(gain_db)) * hop + hop / 2
        y = y * 10 ** (np.interp(np.arange(n), centres, gain_db) / 20)
    if model.drive:
        y = np.tanh(model.drive * 4 * y) / (model.drive * 4)
    return y


# --------------------------------------------------------------------------- writing


def _write_tsv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\t".join(header) + "\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


@dataclass(frozen=True)
class _Rendered:
    """One written clip: its file name, scene, recording identifier, device, split, the key
    of its 10-s parent recording and the SHA-256 of its bytes."""

    name: str
    scene: str
    identifier: str
    device: str
    split: str
    parent: str
    digest: str


def _render_segments(out: Path, config: SynthConfig, segments: list[Segment]) -> list[_Rendered]:
    """Render and write every clip of ``segments`` into ``out``. Each clip depends only on the
    config's seed and its own keys (location, segment, slice, device), never on which segments
    are rendered together, so any split of the segments over processes gives the same bytes."""
    clip_n = int(round(config.clip_seconds * FS))
    pad0, pad1 = int(_PAD_START * FS), int(_PAD_END * FS)
    dev_index = {d: i for i, d in enumerate(DEVICES)}
    locations: dict[int, LocationSound] = {}
    written: list[_Rendered] = []
    for seg in segments:
        if seg.location not in locations:
            locations[seg.location] = _location_sound(
                PROFILES[seg.scene], _rng(config.seed, _TAG_LOC, seg.location),
                config.location_spread,
            )
        loc = locations[seg.location]
        seg_rng = _rng(config.seed, _TAG_SEG, seg.segment)
        seg_loc = replace(loc, level=loc.level + seg_rng.normal(0, 1.5))
        for k in seg.slices:
            n = pad0 + clip_n + pad1
            source = _render_source(seg_loc, _rng(config.seed, _TAG_CLIP, seg.segment, k), n)
            spec = rfft(source, next_fast_len(n, real=True))
            for dev in seg.devices:
                y = _apply_device(spec, n, dev,
                                  _rng(config.seed, _TAG_DEV, seg.segment, k, dev_index[dev]))
                y = np.clip(y[pad0 : pad0 + clip_n], -1.0, 1.0 - 2.0**-23)
                name = seg.filename(dev, k, config.style)
                buffer = io.BytesIO()  # encode in memory, one write: ~2x faster than sf.write
                sf.write(buffer, y, FS, subtype="PCM_24", format="WAV")
                data = buffer.getvalue()
                (out / name).write_bytes(data)
                written.append(_Rendered(
                    name, seg.scene, seg.identifier, dev, seg.split, seg.parent_key(dev),
                    hashlib.sha256(data).hexdigest(),
                ))  # fmt: skip
    return written


def _render_dataset(
    out: Path, config: SynthConfig, progress: bool, workers: int | None = None
) -> dict[str, int]:
    """Render the whole dataset into ``out`` with ``workers`` processes (default: one per
    core); the bytes do not depend on the number of processes."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_all_start_methods, get_context

    from tqdm import tqdm

    segments = plan(config)
    (out / "audio").mkdir(parents=True)
    by_location: dict[int, list[Segment]] = {}
    for seg in segments:  # a location's sound is made once per process: keep them together
        by_location.setdefault(seg.location, []).append(seg)
    groups = list(by_location.values())
    total = sum(len(s.devices) * len(s.slices) for s in segments)
    bar = tqdm(total=total, desc=f"synthesising {config.style}", unit="clip",
               disable=None if progress else True, leave=False)  # fmt: skip
    workers = min(machine_cores(), 8) if workers is None else max(1, workers)
    if "fork" not in get_all_start_methods():
        workers = 1  # spawn would re-run the caller's __main__ module in every worker
    written: list[_Rendered] = []
    if workers == 1:
        for group in groups:
            done = _render_segments(out, config, group)
            written.extend(done)
            bar.update(len(done))
    else:  # forked workers run numpy and scipy only (no OpenMP), so a fork is safe here
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            futures = [pool.submit(_render_segments, out, config, g) for g in groups]
            for future in as_completed(futures):
                done = future.result()
                written.extend(done)
                bar.update(len(done))
    bar.close()
    meta = [(r.name, r.scene, r.identifier, r.device) for r in written]
    split_rows: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    for r in written:
        split_rows[r.split].append((r.name, r.scene, r.parent))
    digests = {r.name: r.digest for r in written}
    style = config.style
    meta.sort()
    _write_tsv(out / "meta.csv", ("filename", "scene_label", "identifier", "source_label"), meta)
    setup = out / "evaluation_setup"
    setup.mkdir()
    train = sorted(r[:2] for r in split_rows["train"])
    test = sorted(r[:2] for r in split_rows["test"])
    _write_tsv(setup / "fold1_train.csv", ("filename", "scene_label"), train)
    _write_tsv(setup / "fold1_evaluate.csv", ("filename", "scene_label"), test)
    _write_tsv(setup / "fold1_test.csv", ("filename",), [(r[0],) for r in test])
    if style == "tau2022":
        _write_2024_splits(out / "split_setup", config, split_rows["train"], test)
    content = content_digest(out, digests)
    info = {
        "generator": "ascbench.data.synth",
        "content_sha256": content,
        "version": SYNTH_VERSION,
        "config": config.model_dump(),
        "counts": {"train": len(train), "test": len(test)},
        "note": "Synthetic data made by ascbench. Results on it are NOT comparable with DCASE "
        "results on the TAU Urban Acoustic Scenes data.",
    }
    (out / "synthetic.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return {"train": len(train), "test": len(test)}


def content_digest(root: Path, known: dict[str, str] | None = None) -> str:
    """SHA-256 over every audio and CSV file of a dataset folder (names and contents);
    ``known`` maps relative names to already computed file digests."""
    known = dict(known or {})
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".wav", ".csv"))
    lines = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        digest = known.get(rel) or hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{rel}\t{digest}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _write_2024_splits(folder: Path, config: SynthConfig, train: list[tuple[str, str, str]],
                       test: list[tuple[str, str]]) -> None:
    """Nested DCASE 2024-style subsets of the training split, whole 10-s recordings at a time."""
    folder.mkdir()
    parents = sorted({r[2] for r in train})
    order = sorted(parents, key=lambda p: hashlib.sha256(f"{config.seed}|{p}".encode()).digest())
    for pct in SPLIT_PERCENTS:
        keep = set(order[: max(1, round(len(order) * pct / 100))])
        rows = sorted((r[0],) for r in train if r[2] in keep)
        _write_tsv(folder / f"split{pct}.csv", ("filename",), rows)
    _write_tsv(folder / "test.csv", ("filename", "scene_label"), list(test))


def synthesize(out: str | Path, config: SynthConfig | None = None, *, progress: bool = False,
               overwrite: bool = False) -> Path:
    """Write a synthetic TAU-shaped dataset to ``out`` and return its path.

    The dataset is generated into a temporary sibling folder and renamed into place, so ``out``
    either does not exist or is complete. Raises :class:`DatasetError` if ``out`` exists and is
    not empty (unless ``overwrite``), or cannot be written.
    """
    config = config or SynthConfig()
    out = Path(out).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise DatasetError(
            f"{out}: already exists and is not empty; choose a new folder or pass --force"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{out.parent}: cannot create folder ({exc.strerror})") from exc
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        _render_dataset(tmp, config, progress)
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except OSError as exc:
        raise DatasetError(f"{out}: cannot write the synthetic dataset ({exc})") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
