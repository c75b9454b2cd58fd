"""On-disk feature cache: frontend outputs of a dataset split in one memory-mapped ``.npy``.

Layout of an entry ``<cache_root>/<dataset>-<split>-<key>/``:

- ``features.npy``: ``(N, C, F, T)`` array (float16 by default), opened with ``np.load(...,
  mmap_mode='r')`` so it never has to fit in RAM;
- ``index.json``: clip filenames (the clip keys), label indices and devices, in row order;
- ``meta.json``: what the entry was computed from, written last with ``"complete": true``.

``key`` hashes the dataset's layout (name, rate, clip length, the split's files, labels and
devices), the frontend's fingerprint, the storage dtype, the audio loader's source and the
cache format version. The files' contents are checked row by row instead: ``index.json``
records each clip's content digest (:mod:`ascbench.data.digests`), and on every use a clip
whose file changed since has its row recomputed (copied entry, rows rewritten, swapped in
under the lock), so a changed file invalidates only its own features.

Filling happens in ``<entry>.partial/`` under an exclusive ``<entry>.lock`` (host, pid and a
heartbeat in its mtime): clips are decoded by a thread pool while the frontend runs on whole
batches, rows are written straight into the memory map, and ``progress.json`` (rewritten
atomically after every flush) makes an interrupted fill resumable. Only when every row is
written are ``index.json`` and ``meta.json`` added and the directory renamed to its final
name, so a crashed fill can never be read as a complete entry. Other processes (also on
other machines sharing the cache directory) wait for the lock holder, or take over a lock
whose holder has died or stopped beating for ``stale_after`` seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ascbench.clips import Batch
from ascbench.data import audio as audio_module
from ascbench.data.base import Clip, Dataset
from ascbench.data.checks import examples
from ascbench.errors import AscbenchError, DatasetError
from ascbench.frontends.base import FeatureExtractor
from ascbench.paths import cache_dir
from ascbench.progress import bar as progress_bar
from ascbench.scenes import SCENES

#: Bump when the entry layout or the way features are computed from audio changes.
CACHE_VERSION = 2
STORAGE_DTYPES = ("float16", "float32")
#: Seconds between flushes of the memory map (each followed by a progress checkpoint).
FLUSH_SECONDS = 5.0


class FeatureCacheError(AscbenchError):
    """A feature cache entry cannot be written or read as asked."""


class FeatureSet(torch.utils.data.Dataset):
    """Features of one dataset split, row ``i`` belonging to clip ``filenames[i]``.

    ``features`` is an ``(N, C, F, T)`` array (a read-only memory map when it comes from the
    cache); ``labels`` are class indices into ``classes`` (-1 = unlabelled); ``devices`` are
    device ids ('' = unknown). Indexing returns ``(float32 tensor (C, F, T), label)``, after
    ``transform`` if one is set (a torch ``Dataset``). It is also
    :class:`~ascbench.clips.ClipData` as it is: the trainer and the evaluator read it through
    :meth:`batch`, which gathers many rows at once with their devices and filenames.
    """

    def __init__(
        self,
        features: np.ndarray,
        filenames: Sequence[str],
        labels: np.ndarray,
        devices: Sequence[str],
        *,
        classes: Sequence[str] = SCENES,
        path: Path | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not (len(features) == len(filenames) == len(labels) == len(devices)):
            raise ValueError("features, filenames, labels and devices must have equal lengths")
        self.features = features
        self.filenames = list(filenames)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.devices = list(devices)
        self.classes = tuple(classes)
        self.path = path
        self.transform = transform
        self._index: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.from_numpy(np.array(self.features[i], dtype=np.float32))
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.labels[i])

    def batch(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> Batch:
        """The clips at ``indices`` as one :class:`~ascbench.clips.Batch` (features through
        :meth:`take`, one gather instead of one per row), with their labels, devices and
        filenames; ``Batch.indices`` are ``indices``."""
        rows = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        return Batch(
            features=self.take(rows),
            labels=torch.tensor([int(self.labels[i]) for i in rows], dtype=torch.long),
            devices=[self.devices[i] for i in rows],
            filenames=[self.filenames[i] for i in rows],
            indices=torch.as_tensor(rows, dtype=torch.long),
        )

    def take(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Float32 features ``(len(indices), C, F, T)`` of the rows at ``indices``, in that order.

        The same values as stacking ``self[i][0]``, read with one gather from the memory map
        and one float16 -> float32 conversion instead of one of each per row (a training
        batch of 256 float16 clips of 3 x 256 x 36: 15 ms instead of 24 ms on one core).
        """
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        if self.transform is not None:
            if not len(rows):
                return torch.empty((0, *self.features.shape[1:]), dtype=torch.float32)
            return torch.stack([self[int(i)][0] for i in rows])
        block = np.asarray(self.features[rows])  # fancy indexing copies, also from a memmap
        return torch.from_numpy(block).to(torch.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(N, C, F, T)``."""
        return tuple(self.features.shape)

    def index_of(self, filename: str) -> int:
        """Row of the clip with this filename (KeyError if absent)."""
        if self._index is None:
            self._index = {f: i for i, f in enumerate(self.filenames)}
        return self._index[filename]

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers started with 'spawn' pickle the dataset: never pickle the memmap
        state = dict(self.__dict__)
        if self.path is not None and isinstance(self.features, np.memmap):
            state["features"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.features is None and self.path is not None:
            self.features = np.load(self.path / "features.npy", mmap_mode="r")


def cache_key(
    dataset: Dataset,
    split: str,
    frontend: FeatureExtractor,
    dtype: str = "float16",
    *,
    dataset_fingerprint: str | None = None,
) -> str:
    """Hex key of the features of ``split`` of ``dataset`` through ``frontend``
    (``dataset_fingerprint`` is accepted for compatibility; contents are checked per row)."""
    clips = hashlib.sha256(
        "\n".join(f"{c.filename}|{c.scene_label}|{c.device}" for c in dataset.splits[split])
        .encode()
    )
    payload = {
        "version": CACHE_VERSION,
        # the layout, not the contents: rows of changed files are refreshed in place
        "dataset": f"{dataset.name}|{dataset.sample_rate}|{dataset.clip_seconds}",
        "split": split,
        "clips": clips.hexdigest(),
        "frontend": f"{type(frontend).__module__}.{type(frontend).__qualname__}",
        "frontend_fingerprint": frontend.fingerprint(),
        "dtype": dtype,
        "loader": _loader_fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def entry_dir(
    dataset: Dataset,
    split: str,
    frontend: FeatureExtractor,
    *,
    cache_root: str | Path | None = None,
    dtype: str = "float16",
    dataset_fingerprint: str | None = None,
) -> Path:
    """Directory of the (maybe not yet existing) cache entry."""
    root = Path(cache_root) if cache_root is not None else cache_dir() / "features"
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{dataset.name}-{split}")
    key = cache_key(dataset, split, frontend, dtype, dataset_fingerprint=dataset_fingerprint)
    return root / f"{safe}-{key}"


def features_for(
    dataset: Dataset,
    split: str,
    frontend: FeatureExtractor,
    *,
    cache_root: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
    dtype: str = "float16",
    batch_size: int | None = None,
    classes: Sequence[str] = SCENES,
    stale_after: float = 600.0,
) -> FeatureSet:
    """Features of ``dataset.splits[split]`` through ``frontend``, from the cache or computed
    into it (see the module docstring).

    ``cache_root`` defaults to ``cache_dir()/features``; ``workers`` threads decode and
    resample audio; ``batch_size`` clips go through the frontend at once (default: about 64
    s of audio); ``dtype`` is the storage type ('float16' halves disk and I/O; 'float32'
    keeps frontend outputs bit-exact). Labels are indices into ``classes``.
    """
    if split not in dataset.splits:
        raise DatasetError(
            f"{dataset.root}: dataset {dataset.name!r} has no split {split!r}; "
            f"available: {', '.join(sorted(dataset.splits))}"
        )
    if dtype not in STORAGE_DTYPES:
        raise FeatureCacheError(
            f"feature cache dtype {dtype!r} is not supported; use float16 or float32"
        )
    clips = dataset.splits[split]
    labels, devices = _labels(dataset, clips, classes)
    shape = (len(clips), *frontend.output_shape(dataset.clip_seconds))
    if not clips:
        return FeatureSet(np.zeros(shape, dtype=dtype), [], labels, devices, classes=classes)
    dataset_fp = dataset.fingerprint()
    final = entry_dir(dataset, split, frontend, cache_root=cache_root, dtype=dtype,
                      dataset_fingerprint=dataset_fp)
    lock = final.with_name(final.name + ".lock")
    waited = False
    while not _is_complete(final, shape, dtype):
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            acquired = _acquire(lock)
        except OSError as exc:
            raise FeatureCacheError(
                f"{final.parent}: cannot write the feature cache ({exc.strerror or exc}); pass "
                "another cache_root or set ASCBENCH_CACHE"
            ) from exc
        if acquired:
            try:
                if not _is_complete(final, shape, dtype):  # completed while we waited
                    _fill(final, lock, dataset, split, clips, frontend, shape, dtype, labels,
                          devices, classes, workers=workers, progress=progress,
                          batch_size=batch_size, dataset_fingerprint=dataset_fp)
            finally:
                _release(lock)
            break
        if _is_stale(lock, stale_after):
            _break(lock)
            continue
        if not waited and progress:
            tqdm.write(f"ascbench: waiting for {_describe_owner(lock)} to finish {final.name}")
        waited = True
        time.sleep(1.0)
    _refresh_changed(final, lock, dataset, clips, frontend, shape, dtype, progress=progress,
                     stale_after=stale_after)  # fmt: skip
    result = load_entry(final, classes=classes)
    if result.filenames != [c.filename for c in clips]:  # cannot happen unless edited by hand
        raise FeatureCacheError(f"{final}/index.json does not match the split; delete {final}")
    result.labels, result.devices = labels, devices  # for ``classes`` as given now
    return result


def load_entry(path: str | Path, *, classes: Sequence[str] = SCENES) -> FeatureSet:
    """Open a complete cache entry directory as a :class:`FeatureSet` (memory-mapped)."""
    path = Path(path)
    meta = _read_json(path / "meta.json")
    if not meta or not meta.get("complete"):
        raise FeatureCacheError(f"{path}: not a complete feature cache entry; delete it and rerun")
    index = _read_json(path / "index.json")
    if index is None:
        raise FeatureCacheError(
            f"{path}/index.json is missing or unreadable; delete {path} and rerun"
        )
    features = np.load(path / "features.npy", mmap_mode="r")
    return FeatureSet(features, index["filenames"], np.asarray(index["labels"]), index["devices"],
                      classes=classes, path=path)


# ----------------------------------------------------------------------------- filling


def _fill(
    final: Path,
    lock: Path,
    dataset: Dataset,
    split: str,
    clips: list[Clip],
    frontend: FeatureExtractor,
    shape: tuple[int, ...],
    dtype: str,
    labels: np.ndarray,
    devices: list[str],
    classes: Sequence[str],
    *,
    workers: int,
    progress: bool,
    batch_size: int | None,
    dataset_fingerprint: str,
) -> None:
    partial = final.with_name(final.name + ".partial")
    n_clips = shape[0]
    samples = int(round(dataset.clip_seconds * frontend.sample_rate))
    if batch_size is None:
        batch_size = max(1, min(256, int(64 // max(dataset.clip_seconds, 1e-3))))
    done = _resume_point(partial, shape, dtype)
    features = _open_features(partial, shape, dtype, done)
    adjusted: list[str] = list((_read_json(partial / "progress.json") or {}).get("adjusted", []))

    was_training = frontend.training
    frontend.eval()
    desc = f"features {dataset.name}/{split}"
    bar = progress_bar(total=n_clips, initial=done, unit="clip",
                       disable=None if progress else True, desc=desc)  # fmt: skip
    last_flush = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ascbench-decode")
    try:
        with pool:
            depth = max(2, workers)
            batches = _decoded_batches(
                pool, dataset, clips, done, batch_size, samples, frontend.sample_rate, depth=depth
            )
            for start, wave, adj in batches:
                stored = _batch_features(frontend, wave, dataset, clips, start, shape, dtype)
                features[start : start + len(stored)] = stored
                adjusted.extend(adj)
                done = start + len(stored)
                bar.update(len(stored))
                if time.monotonic() - last_flush >= FLUSH_SECONDS or done == n_clips:
                    features.flush()
                    _write_progress(partial, shape, dtype, done, adjusted)
                    _heartbeat(lock)
                    last_flush = time.monotonic()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # do not decode batches nobody will use
        raise
    finally:
        bar.close()
        frontend.train(was_training)
    features.flush()
    del features
    index = _index(clips, labels, devices, classes)
    index["digests"] = [dataset.digests()[c.filename] for c in clips]
    _atomic_json(partial / "index.json", index)
    meta = _entry_meta(
        dataset, dataset_fingerprint, split, frontend, shape, dtype, samples, adjusted
    )
    _atomic_json(partial / "meta.json", meta)
    (partial / "progress.json").unlink(missing_ok=True)
    _publish(partial, final, shape, dtype)


def _changed_rows(final: Path, dataset: Dataset, clips: list[Clip]) -> list[int]:
    """Rows of a complete entry whose file's content digest differs from the one recorded."""
    recorded = (_read_json(final / "index.json") or {}).get("digests")
    current = dataset.digests()
    if not isinstance(recorded, list) or len(recorded) != len(clips):
        return list(range(len(clips)))
    return [i for i, c in enumerate(clips) if recorded[i] != current[c.filename]]


def _refresh_changed(
    final: Path, lock: Path, dataset: Dataset, clips: list[Clip], frontend: FeatureExtractor,
    shape: tuple[int, ...], dtype: str, *, progress: bool, stale_after: float,
) -> None:  # fmt: skip
    """Recompute the rows of clips whose files changed since the entry was filled: a copy of
    the entry gets the new rows and replaces it, under the entry's lock."""
    if not _changed_rows(final, dataset, clips):
        return
    while not _acquire(lock):
        if _is_stale(lock, stale_after):
            _break(lock)
            continue
        time.sleep(1.0)
    try:
        rows = _changed_rows(final, dataset, clips)  # another process may have done it
        if not rows:
            return
        names = examples([clips[r].filename for r in rows])
        tqdm.write(f"ascbench: {len(rows)} files changed since their features were cached "
                   f"({names}); recomputing only those rows", file=sys.stderr)  # fmt: skip
        _rewrite_rows(final, dataset, clips, rows, frontend, shape, dtype)
    finally:
        _release(lock)


def _rewrite_rows(
    final: Path, dataset: Dataset, clips: list[Clip], rows: list[int],
    frontend: FeatureExtractor, shape: tuple[int, ...], dtype: str,
) -> None:  # fmt: skip
    work = final.with_name(f"{final.name}.refresh-{uuid.uuid4().hex[:8]}")
    shutil.copytree(final, work)
    features = np.load(work / "features.npy", mmap_mode="r+")
    samples = int(round(dataset.clip_seconds * frontend.sample_rate))
    was_training = frontend.training
    frontend.eval()
    picked = [clips[r] for r in rows]
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ascbench-decode") as pool:
            batches = _decoded_batches(pool, dataset, picked, 0, 64, samples,
                                       frontend.sample_rate, depth=2)  # fmt: skip
            for start, wave, _ in batches:
                stored = _batch_features(frontend, wave, dataset, picked, start, shape, dtype)
                features[rows[start : start + len(stored)]] = stored
        features.flush()
    finally:
        frontend.train(was_training)
        del features
    index = _read_json(work / "index.json")
    index["digests"] = [dataset.digests()[c.filename] for c in clips]
    _atomic_json(work / "index.json", index)
    meta = _read_json(work / "meta.json")
    meta["refreshed_rows"] = int(meta.get("refreshed_rows", 0)) + len(rows)
    _atomic_json(work / "meta.json", meta)
    old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(final, old)  # open memory maps of the old rows stay readable
    os.rename(work, final)
    shutil.rmtree(old, ignore_errors=True)


def _open_features(partial: Path, shape: tuple[int, ...], dtype: str, done: int) -> np.ndarray:
    """The features memmap of ``partial``: the one being resumed, or a new one when ``done``
    is 0 (the folder made afresh, its progress file written)."""
    if done:
        return np.load(partial / "features.npy", mmap_mode="r+")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    features = np.lib.format.open_memmap(
        partial / "features.npy", mode="w+", dtype=dtype, shape=shape
    )
    _write_progress(partial, shape, dtype, 0, [])
    return features


def _batch_features(
    frontend: FeatureExtractor,
    wave: np.ndarray,
    dataset: Dataset,
    clips: list[Clip],
    start: int,
    shape: tuple[int, ...],
    dtype: str,
) -> np.ndarray:
    """The features of one batch of audio (its first clip: ``clips[start]``), as stored;
    a FeatureCacheError for a shape other than ``shape`` or for values that are not finite."""
    with torch.no_grad():
        out = frontend(torch.from_numpy(wave)).numpy()
    if tuple(out.shape[1:]) != shape[1:]:
        raise FeatureCacheError(
            f"frontend {type(frontend).__name__} gave {tuple(out.shape[1:])} for "
            f"{dataset.path(clips[start])} but {shape[1:]} was expected; is its "
            "output_shape() consistent with forward()?"
        )
    with np.errstate(over="ignore"):  # checked just below
        stored = out.astype(dtype)
    finite = np.isfinite(stored).reshape(len(stored), -1).all(axis=1)
    if not finite.all():
        bad = dataset.path(clips[start + int(np.flatnonzero(~finite)[0])])
        what = "are not finite"
        if np.isfinite(out).all():
            what = "exceed the float16 range"
        raise FeatureCacheError(
            f"features of {bad} {what}; use dtype='float32' or fix the frontend"
        )
    return stored


def _index(
    clips: list[Clip], labels: np.ndarray, devices: list[str], classes: Sequence[str]
) -> dict[str, Any]:
    """What ``index.json`` of an entry holds: file names, labels and devices, row by row."""
    return {
        "filenames": [c.filename for c in clips],
        "labels": labels.tolist(),
        "devices": devices,
        "classes": list(classes),
    }


def _entry_meta(
    dataset: Dataset,
    dataset_fingerprint: str,
    split: str,
    frontend: FeatureExtractor,
    shape: tuple[int, ...],
    dtype: str,
    samples: int,
    adjusted: list[str],
) -> dict[str, Any]:
    """What ``meta.json`` of a complete entry holds: where its features come from."""
    return {
        "complete": True,
        "version": CACHE_VERSION,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset_fingerprint,
        "split": split,
        "frontend": type(frontend).__name__,
        "frontend_config": _jsonable(frontend.config()),
        "frontend_fingerprint": frontend.fingerprint(),
        "shape": list(shape),
        "dtype": dtype,
        "clip_samples": samples,
        "length_adjusted": len(adjusted),
        "length_adjusted_examples": adjusted[:20],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
    }


def _publish(partial: Path, final: Path, shape: tuple[int, ...], dtype: str) -> None:
    """Move the finished ``partial`` folder to ``final``."""
    if final.exists() and not _is_complete(final, shape, dtype):
        shutil.rmtree(final)  # an incomplete leftover (we hold the lock): replace it
    try:
        os.rename(partial, final)
    except OSError:
        # another process completed the same entry (after taking over our lock): keep theirs
        if not _is_complete(final, shape, dtype):
            raise
        shutil.rmtree(partial, ignore_errors=True)


def _decoded_batches(
    pool: ThreadPoolExecutor,
    dataset: Dataset,
    clips: list[Clip],
    start: int,
    batch_size: int,
    samples: int,
    sample_rate: int,
    depth: int,
) -> Iterator[tuple[int, np.ndarray, list[str]]]:
    """Yield ``(first row, (n, samples) float32 audio, adjusted filenames)`` per batch, with
    the next ``depth`` batches already being decoded."""
    starts = list(range(start, len(clips), batch_size))
    pending: list[tuple[int, list[Future[np.ndarray]]]] = []

    def submit(s: int) -> None:
        batch = clips[s : s + batch_size]
        pending.append((s, [pool.submit(audio_module.load_audio, dataset.path(c), sample_rate)
                            for c in batch]))

    for s in starts[:depth]:
        submit(s)
    next_i = depth
    while pending:
        s, futures = pending.pop(0)
        if next_i < len(starts):
            submit(starts[next_i])
            next_i += 1
        wave = np.zeros((len(futures), samples), dtype=np.float32)
        adjusted = []
        for row, fut in enumerate(futures):
            audio = fut.result()
            n = min(samples, audio.shape[0])
            wave[row, :n] = audio[:n]
            if audio.shape[0] != samples:
                adjusted.append(f"{clips[s + row].filename} ({audio.shape[0]} samples)")
        yield s, wave, adjusted


def _labels(
    dataset: Dataset, clips: list[Clip], classes: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    lookup = {c: i for i, c in enumerate(classes)}
    labels = np.full(len(clips), -1, dtype=np.int64)
    for i, clip in enumerate(clips):
        if clip.scene_label is not None:
            if clip.scene_label not in lookup:
                raise DatasetError(
                    f"{dataset.path(clip)}: scene label {clip.scene_label!r} is not one of "
                    f"{', '.join(classes)}; fix the dataset metadata"
                )
            labels[i] = lookup[clip.scene_label]
    return labels, [c.device or "" for c in clips]


# ----------------------------------------------------------------------------- entry state


def _is_complete(path: Path, shape: tuple[int, ...], dtype: str) -> bool:
    meta = _read_json(path / "meta.json")
    if not meta or not meta.get("complete") or meta.get("version") != CACHE_VERSION:
        return False
    if list(meta.get("shape", [])) != list(shape) or meta.get("dtype") != dtype:
        return False
    if not (path / "index.json").is_file():
        return False
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    try:
        return (path / "features.npy").stat().st_size >= expected
    except OSError:
        return False


def _resume_point(partial: Path, shape: tuple[int, ...], dtype: str) -> int:
    """Rows already written by an interrupted fill of the same entry (0: start afresh)."""
    prog = _read_json(partial / "progress.json")
    if not prog or prog.get("shape") != list(shape) or prog.get("dtype") != dtype:
        return 0
    if prog.get("version") != CACHE_VERSION:
        return 0
    try:
        arr = np.load(partial / "features.npy", mmap_mode="r")
    except (OSError, ValueError):
        return 0
    if tuple(arr.shape) != tuple(shape) or arr.dtype != np.dtype(dtype):
        return 0
    return max(0, min(int(prog.get("done", 0)), shape[0]))


def _write_progress(
    partial: Path, shape: tuple[int, ...], dtype: str, done: int, adjusted: list[str]
) -> None:
    _atomic_json(partial / "progress.json", {
        "version": CACHE_VERSION, "shape": list(shape), "dtype": dtype, "done": done,
        "adjusted": adjusted,
    })


# ----------------------------------------------------------------------------- locking


def _acquire(lock: Path) -> bool:
    """Create ``lock`` exclusively with our host and pid; False if someone holds it."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}, fh)
    return True


def _heartbeat(lock: Path) -> None:
    """Refresh the lock's mtime; fail if another process has taken the lock over."""
    owner = _read_json(lock)
    if not owner or owner.get("host") != socket.gethostname() or owner.get("pid") != os.getpid():
        raise FeatureCacheError(
            f"{lock}: another process took over this feature cache fill (ours looked stale); "
            "rerun to use its result"
        )
    os.utime(lock)


def _release(lock: Path) -> None:
    owner = _read_json(lock)
    if owner and owner.get("host") == socket.gethostname() and owner.get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


def _is_stale(lock: Path, stale_after: float) -> bool:
    owner = _read_json(lock)
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False  # released meanwhile
    if owner is None:
        return age > 30.0  # unreadable: being written, or garbage left behind
    if owner.get("host") == socket.gethostname():
        return not _pid_alive(int(owner.get("pid", -1)))
    return age > stale_after


def _break(lock: Path) -> None:
    """Remove a stale lock; renaming first means only one of several breakers succeeds."""
    grave = lock.with_name(f"{lock.name}.stale-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(lock, grave)
    except FileNotFoundError:
        return
    grave.unlink(missing_ok=True)


def _describe_owner(lock: Path) -> str:
    owner = _read_json(lock) or {}
    return f"host {owner.get('host', '?')} pid {owner.get('pid', '?')} (lock {lock})"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- helpers


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


_LOADER_FP: str | None = None


def _loader_fingerprint() -> str:
    """Hash of the audio loader's source: changing how audio is decoded/resampled
    invalidates cached features."""
    global _LOADER_FP
    if _LOADER_FP is None:
        try:
            src = Path(audio_module.__file__).read_bytes()
        except OSError:  # e.g. zipped install: fall back to the package version
            src = sys.modules["ascbench"].__version__.encode()
        _LOADER_FP = hashlib.sha256(src).hexdigest()[:16]
    return _LOADER_FP
