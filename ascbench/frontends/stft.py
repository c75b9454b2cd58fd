"""Chunked short-time power spectra and their mel projection, computed like librosa.

:class:`SpectrogramKernel` frames a batch of waveforms, windows each frame, takes its real FFT
(torch/MKL) and either keeps the power of every FFT bin or projects it onto a mel filterbank.
The batch is cut into work items (a whole clip, several short clips, or part of a long clip)
that are shared out over ``torch.get_num_threads()`` threads, each running single-threaded (no
per-operation barriers, which matters on busy machines). Within an item, frames go through
padding, window, FFT and ``re² + im²`` a few hundred at a time (few calls: each one costs fixed
work and Python time under the GIL, which the other thread waits for), and the item's float32
power spectra then go through one block-sparse mel product
(:class:`~ascbench.frontends.melscale.MelBlocks`, a few small matrix products). Buffers are
kept per thread between calls (fresh memory costs a page fault per 4 kB). Measured per 10-s
clip at n_fft 2048 and 256 mels on one core, float64 (best of 6 runs): FFT 1.6 ms,
``re² + im²`` 0.8 ms, mel product 0.7 ms, windowing 0.5 ms, padding/conversion to float64
0.3 ms, dB and the rest 0.4 ms; the FFT is ~40 %, the memory passes around it the rest.

Precision: librosa multiplies float32 audio by a float64 window, so its FFT runs in float64.
A float32 FFT has a rounding-noise floor about 120 dB below the frame's energy, spread over
all bins, so on real recordings (whose highest bands often lie 100+ dB below the lowest)
float32 differs from librosa by 0.02-1 dB in those quiet bands (measured on real TAU
clips and on the test signals), while it agrees to <1e-3 dB on moderate dynamic ranges.
``precision='float64'`` (the default) windows and transforms in float64 and agrees with
librosa to ~1e-5 dB everywhere. The power ``re² + im²`` is rounded to float32 before the mel
product (a sum of positive terms: the rounding is relative, like librosa's own float32 power
spectrogram, and costs nothing in quiet bands).

Why not a float32 FFT with a float64 recomputation of the frames where float32 is not accurate
enough: a safe bound on a float32 FFT's error in one bin has to allow for error spikes (next to
a frame's loudest bins and at their aliases, up to ~40x the typical error; the bound measured
to hold on tones, noise, chirps, DC, clipping and 33 real clips is
``|err_k| <= 2u (6 ||frame|| + 2.2 max|X| + 2 |X_k|)``), i.e. 30-40 dB above the error a band
actually sees. Held to 2.5e-4 dB, that bound sends every frame of the benchmark signal and of
real recordings to float64 (an oracle knowing the true errors would need float64 for 11 % of
the frames of those 33 clips, 0-99 % per clip), so the fallback would add the float64 FFT to
the float32 one instead of replacing it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import scipy.signal
import torch

from ascbench.frontends.melscale import MelBlocks

Precision = Literal["float64", "float32"]

#: Frames per work item: the float32 power spectra of an item (2 MB at n_fft 2048) feed one
#: block-sparse mel product, so its per-call overhead is paid once per item, not per FFT call.
BLOCK_FRAMES = 512
#: Bytes of windowed frames per FFT call (256 frames of 2048 float64 samples). Fewer, larger
#: calls win over cache-sized ones here: each call costs ~10-20 us of fixed work and Python
#: overhead under the GIL, which the other thread then waits for (measured on 2 cores: 32
#: frames per call is ~25 % slower than 256, and 512 is slower again in float64).
FFT_BYTES = 4 * 1024 * 1024


def stft_window(name: str, win_length: int, n_fft: int, periodic: bool = True) -> np.ndarray:
    """The periodic ('fftbins', as librosa uses it) or, with ``periodic=False``, symmetric
    window of ``win_length`` samples, zero-padded in the centre of ``n_fft`` samples, in
    float64 (``scipy.signal.get_window``)."""
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft})")
    win = scipy.signal.get_window(name, win_length, fftbins=periodic).astype(np.float64)
    lpad = (n_fft - win_length) // 2
    return np.pad(win, (lpad, n_fft - win_length - lpad))


def n_frames(samples: int, n_fft: int, hop: int, center: bool) -> int:
    """Number of STFT frames of a signal of ``samples`` samples (librosa's convention)."""
    if center:
        return 1 + samples // hop
    if samples < n_fft:
        raise ValueError(f"a {samples}-sample signal is shorter than n_fft={n_fft} (center=False)")
    return 1 + (samples - n_fft) // hop


class SpectrogramKernel:
    """Power spectra of ``(batch, samples)`` waveforms, optionally projected onto mel bands."""

    def __init__(
        self,
        n_fft: int,
        hop_length: int,
        window: np.ndarray,
        *,
        center: bool = True,
        pad_mode: Literal["constant", "reflect"] = "constant",
        precision: Precision = "float64",
        block_frames: int = BLOCK_FRAMES,
        fft_frames: int | None = None,
    ) -> None:
        if pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")
        if precision not in ("float64", "float32"):
            raise ValueError(f"precision must be 'float64' or 'float32', got {precision!r}")
        self.n_fft, self.hop = int(n_fft), int(hop_length)
        self.n_bins = self.n_fft // 2 + 1
        self.center, self.pad_mode = center, pad_mode
        self.dtype = torch.float64 if precision == "float64" else torch.float32
        self.window = torch.from_numpy(np.asarray(window, dtype=np.float64)).to(self.dtype)
        self.block_frames = max(1, int(block_frames))
        if fft_frames is None:
            fft_frames = FFT_BYTES // (self.n_fft * self.window.element_size())
        self.fft_frames = max(1, int(fft_frames))

    def frames(self, samples: int) -> int:
        return n_frames(samples, self.n_fft, self.hop, self.center)

    def mel_blocks(self, weights: np.ndarray) -> MelBlocks:
        """Block-sparse float32 filterbank for this kernel's float32 power spectra."""
        return MelBlocks(weights, dtype=torch.float32)

    def _items(self, batch: int, frames: int, workers: int) -> list[tuple[int, int, int, int]]:
        """Work items ``(b0, b1, t0, t1)`` of at most ``block_frames`` frames: several whole
        clips per item when clips are short, equal frame ranges of one clip when they are
        long, and at least ``workers`` items whenever the frames allow it."""
        frames = max(frames, 1)
        clips_per_item = min(self.block_frames // frames, -(-batch // max(workers, 1)))
        if clips_per_item > 1:
            return [(b, min(batch, b + clips_per_item), 0, frames)
                    for b in range(0, batch, clips_per_item)]
        parts = max(-(-frames // self.block_frames), -(-workers // batch))
        step = -(-frames // min(parts, frames))
        return [(b, b + 1, t, min(frames, t + step))
                for b in range(batch) for t in range(0, frames, step)]

    @torch.no_grad()
    def __call__(
        self, wave: torch.Tensor, *, power: float = 2.0, mel: MelBlocks | None = None
    ) -> torch.Tensor:
        """``(B, n_mels, T)`` mel-projected ``|X|^power`` if ``mel`` is given, else the per-bin
        ``|X|^power`` as ``(B, T, n_bins)``; float32 either way.

        Work is split over ``torch.get_num_threads()`` threads, each running its share of
        work items single-threaded (robust on shared machines, no per-operation barriers).
        """
        if wave.dim() != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(wave.shape)}")
        batch, samples = wave.shape
        pad = self.n_fft // 2 if self.center else 0
        if self.center and self.pad_mode == "reflect" and samples <= pad:
            raise ValueError(
                f"reflect padding needs more than {pad} samples per clip, got {samples}"
            )
        frames = self.frames(samples)
        wave = wave.detach().to("cpu")
        if wave.dtype not in (torch.float32, torch.float64):
            wave = wave.float()
        wave = wave.contiguous()  # float64 audio stays float64 (as in librosa)
        if mel is not None:
            out = torch.empty(batch, mel.n_mels, frames, dtype=torch.float32)
        else:
            out = torch.empty(batch, frames, self.n_bins, dtype=torch.float32)
        if batch == 0:
            return out
        threads = torch.get_num_threads()
        items = self._items(batch, frames, threads)
        workers = min(threads, len(items))
        if workers <= 1:
            self._work_items(items, wave, out, power, mel)
        else:
            pool = _thread_pool(workers)
            shares = [items[i::workers] for i in range(workers)]
            futures = [pool.submit(_single_threaded, self._work_items, share, wave, out, power, mel)
                       for share in shares if share]
            for fut in futures:
                fut.result()
        return out

    def _work_items(
        self,
        items: list[tuple[int, int, int, int]],
        wave: torch.Tensor,
        out: torch.Tensor,
        power: float,
        mel: MelBlocks | None,
    ) -> None:
        n_fft, hop, n_bins = self.n_fft, self.hop, self.n_bins
        rows_max = max((b1 - b0) * (t1 - t0) for b0, b1, t0, t1 in items)
        step = min(self.fft_frames, max(t1 - t0 for _, _, t0, t1 in items))
        sig = _scratch("signal", ((step - 1) * hop + n_fft,), self.dtype)  # one call's audio
        win_buf = _scratch("frames", (step, n_fft), self.dtype)
        if mel is not None:
            pow_buf = _scratch("power", (rows_max, n_bins), torch.float32)
            mel_buf = _scratch("mel", (mel.n_mels, rows_max), torch.float32)
        frames_total = out.shape[-1] if mel is not None else out.shape[1]
        for b0, b1, t0, t1 in items:
            nb, nt = b1 - b0, t1 - t0
            if mel is None:
                pw = out[b0:b1, t0:t1]  # per-bin output rows are written in place
            else:
                pw = pow_buf[: nb * nt].view(nb, nt, n_bins)
            for c in range(nb):
                self._power_rows(wave[b0 + c], t0, t1, pw[c], sig, win_buf)
            if power != 2.0:
                pw.sqrt_() if power == 1.0 else pw.pow_(power / 2.0)
            if mel is None:
                continue
            if nb == 1 and nt == frames_total:  # the whole clip: project into the output
                mel.project_t(pw.view(nt, n_bins), out[b0])
            else:
                m = mel.project_t(pw.view(nb * nt, n_bins), mel_buf[:, : nb * nt])
                out[b0:b1, :, t0:t1].copy_(m.view(mel.n_mels, nb, nt).transpose(0, 1))

    def _power_rows(
        self,
        clip: torch.Tensor,
        t0: int,
        t1: int,
        dest: torch.Tensor,
        sig: torch.Tensor,
        win_buf: torch.Tensor,
    ) -> None:
        """``dest`` (float32, ``(t1 - t0, n_bins)``) = ``|rfft(window * frame)|^2`` for frames
        ``t0:t1`` of one clip, ``fft_frames`` frames per FFT call; each call's samples are
        padded and converted into ``sig`` just before windowing reads them."""
        step = win_buf.shape[0]
        for s0 in range(t0, t1, step):
            s1 = min(t1, s0 + step)
            seg = self._padded_span(clip, s0, s1, sig)
            wbuf = win_buf[: s1 - s0]
            torch.mul(seg.unfold(0, self.n_fft, self.hop), self.window, out=wbuf)
            _power_into(torch.fft.rfft(wbuf), dest[s0 - t0 : s1 - t0])

    def _padded_span(self, clip: torch.Tensor, t0: int, t1: int, sig: torch.Tensor) -> torch.Tensor:
        """The samples of the 1-D ``clip`` under frames ``t0:t1``, padded as librosa pads, in
        the FFT dtype: a view of ``sig``."""
        samples = clip.shape[0]
        span = (t1 - t0 - 1) * self.hop + self.n_fft
        lo = t0 * self.hop - (self.n_fft // 2 if self.center else 0)  # first sample's index
        hi = lo + span
        seg = sig[:span]
        if lo >= 0 and hi <= samples:
            return seg.copy_(clip[lo:hi])
        a0, a1 = max(lo, 0), min(hi, samples)
        seg[a0 - lo : a1 - lo].copy_(clip[a0:a1])
        reflect = self.pad_mode == "reflect"
        if lo < 0:
            if reflect:
                seg[: a0 - lo].copy_(clip[1 : 1 - lo].flip(-1))
            else:
                seg[: a0 - lo].zero_()
        if hi > samples:
            if reflect:
                seg[a1 - lo :].copy_(clip[2 * samples - 1 - hi : samples - 1].flip(-1))
            else:
                seg[a1 - lo :].zero_()
        return seg


def _power_into(spec: torch.Tensor, dest: torch.Tensor) -> None:
    """``dest = re² + im²`` of the complex ``spec``, rounded to ``dest``'s float32 (a positive
    sum: the rounding is relative, ~6e-8, so it costs no accuracy in quiet bins). Both must be
    contiguous rows: numpy's casting loop is ~2.5x slower on column slices."""
    parts = torch.view_as_real(spec).numpy()  # (rows, n_bins, 2), squared in place
    np.multiply(parts, parts, out=parts)
    np.add(parts[..., 0], parts[..., 1], out=dest.numpy(), casting="same_kind")


#: Scratch buffers larger than this many bytes are not kept between calls.
SCRATCH_KEEP_BYTES = 64 * 1024 * 1024
_SCRATCH = threading.local()


def _scratch(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised ``shape`` tensor from this thread's buffer ``name``, kept between calls
    (fresh memory costs a page fault per 4 kB on first touch: about 1,500 for one 10-s clip)."""
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    numel = int(np.prod(shape))
    buf = buffers.get((name, dtype))
    if buf is None or buf.numel() < numel:
        buf = torch.empty(numel, dtype=dtype)
        if numel * buf.element_size() <= SCRATCH_KEEP_BYTES:
            buffers[(name, dtype)] = buf
    return buf[:numel].view(shape)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _single_threaded(work: Callable[..., None], *args: Any) -> None:
    """Run ``work(*args)`` with torch limited to one thread (a pool thread's share of a batch)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        work(*args)
    finally:
        torch.set_num_threads(previous)


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of at least ``workers`` threads for spectrogram blocks."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=max(workers, os.cpu_count() or 1),
                                       thread_name_prefix="ascbench-stft")
        return _POOL
