"""One entry point for every dataset: ``--data PATH``, or the synthetic default.

:func:`load_dataset` resolves what ``ascbench run --data PATH`` names:

* ``None`` (no ``--data``): the synthetic TAU-shaped default, generated once into the cache
  (:func:`default_dataset`); 1-s clips (``tau2022`` style) unless the rule set asks for 10 s;
* ``synthetic``, ``synthetic:tau2022`` or ``synthetic:tau2020``: the same, explicitly;
* a TAU development-set root (``meta.csv`` + ``audio/``), or its ``meta.csv``;
* a labels CSV, or a folder holding ``labels.csv`` (see :mod:`ascbench.data.folder`).

If ``clip_seconds`` is given (the rule set's clip length), a dataset with another clip length
is an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from ascbench.data.base import Dataset
from ascbench.data.checks import DataReport, HeaderMode, decode_all
from ascbench.data.folder import find_labels, scan_folder
from ascbench.data.synth import STYLES, SynthConfig, _render_dataset
from ascbench.data.tau import is_tau_root, scan_tau
from ascbench.errors import DatasetError
from ascbench.paths import cache_dir

SYNTHETIC_PREFIX = "synthetic"


def style_for(clip_seconds: float | None) -> str:
    """The synthetic style for a rule set's clip length: tau2020 for 10 s, tau2022 for 1 s
    (and when no length is given)."""
    if clip_seconds is None or abs(clip_seconds - 1.0) < 1e-6:
        return "tau2022"
    if abs(clip_seconds - 10.0) < 1e-6:
        return "tau2020"
    raise DatasetError(
        f"no synthetic default for {clip_seconds:g}-s clips (only 1 s and 10 s); pass --data "
        "with a dataset of that clip length"
    )


def synthetic_dir(config: SynthConfig) -> Path:
    """Where the cached synthetic dataset of ``config`` lives."""
    return cache_dir() / "synthetic" / f"{config.style}-v{config.key()}"


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock on ``path`` (no-op where fcntl is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_synthetic(config: SynthConfig, *, progress: bool = True) -> Path:
    """Generate the synthetic dataset of ``config`` into the cache unless it is there already.

    Concurrent-safe: one process generates (under a lock file) into a temporary folder that is
    renamed into place when complete; the others wait for it and reuse the result.
    """
    target = synthetic_dir(config)
    if target.is_dir():
        return target
    base = target.parent
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{base}: cannot create the cache folder ({exc.strerror}); set "
                           "ASCBENCH_CACHE to a writable folder") from exc  # fmt: skip
    with _lock(base / f".{target.name}.lock"):
        if target.is_dir():
            return target
        for stale in base.glob(f".{target.name}.tmp-*"):  # left by a killed process
            shutil.rmtree(stale, ignore_errors=True)
        tmp = base / f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        announce = not (progress and sys.stderr.isatty())  # no bar: say it in plain lines
        if announce:
            clips = sum(config.expected_counts().values())
            print(f"ascbench: synthesising the default dataset once into {target} "
                  f"({clips:,} clips)", file=sys.stderr)  # fmt: skip
        try:
            _render_dataset(tmp, config, progress)
            os.replace(tmp, target)
            if announce:
                print(f"ascbench: default dataset ready in {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
        except OSError as exc:
            raise DatasetError(f"{target}: cannot write the synthetic dataset ({exc}); set "
                               "ASCBENCH_CACHE to a writable folder with ~1 GB free") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_dataset(style: str = "tau2022", *, split: str = "fold1",
                    config: SynthConfig | None = None, progress: bool = True) -> Dataset:
    """The synthetic TAU-shaped dataset of ``style`` ('tau2022': 1-s clips, 'tau2020': 10-s),
    generated on first use into ``cache_dir()/synthetic/<style>-v<hash>`` and loaded."""
    config = config or SynthConfig.default(style)
    if config.style != style:
        raise DatasetError(f"config style '{config.style}' does not match style '{style}'")
    root = ensure_synthetic(config, progress=progress)
    return scan_tau(root, split=split).raise_for_errors()


def _synthetic_style(path: str) -> str | None:
    """'tau2022' / 'tau2020' if ``path`` is 'synthetic[:style]' (and not an existing path)."""
    if not path.startswith(SYNTHETIC_PREFIX) or Path(path).exists():
        return None
    rest = path[len(SYNTHETIC_PREFIX) :]
    if rest == "":
        return ""
    if rest.startswith(":") and rest[1:] in STYLES:
        return rest[1:]
    raise DatasetError(f"unknown synthetic dataset '{path}'; use synthetic:"
                       + " or synthetic:".join(STYLES))  # fmt: skip


def check_dataset(
    path: str | Path | None,
    *,
    clip_seconds: float | None = None,
    split: str = "fold1",
    skip_missing: bool = False,
    skip_unknown_labels: bool = False,
    headers: HeaderMode = "sample",
    decode: bool = False,
    progress: bool = False,
    evaluation_only: bool = False,
) -> DataReport:
    """Find and check the dataset ``path`` names (see the module docstring) and return the
    report, with ``report.dataset`` set when it could be built. Never raises for data problems
    (they are in ``report.errors``) except for the synthetic default's own failures.
    ``evaluation_only``: a labels CSV may have no training clips (see :func:`scan_folder`).

    ``headers="all"`` reads every audio header instead of a sample; ``decode`` decodes every
    file (slow) to find unreadable, empty or NaN audio.
    """
    report = _check(path, clip_seconds=clip_seconds, split=split, skip_missing=skip_missing,
                    skip_unknown_labels=skip_unknown_labels, headers=headers,
                    progress=progress, evaluation_only=evaluation_only)  # fmt: skip
    if report.dataset is not None:
        warn_shared_base_names(report, report.dataset)
    if decode and report.dataset is not None and report.root is not None:
        names = [c.filename for clips in report.dataset.splits.values() for c in clips]
        decode_all(report, report.root, names, report.dataset.sample_rate, progress)
    return report


def warn_shared_base_names(report: DataReport, dataset) -> None:
    """A warning when clips in different folders share a file name: ascbench keys its
    predictions by the path in the dataset, but a DCASE submission lists base names only."""
    from collections import defaultdict
    from posixpath import basename

    paths: dict[str, list[str]] = defaultdict(list)
    for clips in dataset.splits.values():
        for clip in clips:
            paths[basename(clip.filename)].append(clip.filename)
    shared = {name: where for name, where in paths.items() if len(where) > 1}
    if shared:
        name, where = next(iter(sorted(shared.items())))
        report.warnings.append(
            f"{sum(len(w) for w in shared.values())} clips share a file name with another clip "
            f"in a different folder (e.g. {name!r}: {', '.join(sorted(where)[:3])}); results "
            "key them by their paths, but `ascbench submit` needs unique file names"
        )


def _check(path: str | Path | None, *, clip_seconds: float | None, split: str,
           skip_missing: bool, skip_unknown_labels: bool, headers: HeaderMode, progress: bool,
           evaluation_only: bool = False) -> DataReport:  # fmt: skip
    style = "" if path is None else _synthetic_style(str(path))
    if style is not None:
        style = style or style_for(clip_seconds)
        root = ensure_synthetic(SynthConfig.default(style), progress=progress)
        return scan_tau(root, split=split, headers=headers, clip_seconds=clip_seconds,
                        progress=progress)  # fmt: skip
    given = Path(str(path)).expanduser().absolute()
    tau_kw = dict(split=split, skip_missing=skip_missing, headers=headers,
                  clip_seconds=clip_seconds, progress=progress)  # fmt: skip
    folder_kw = dict(skip_missing=skip_missing, skip_unknown_labels=skip_unknown_labels,
                     headers=headers, clip_seconds=clip_seconds, progress=progress,
                     evaluation_only=evaluation_only)  # fmt: skip
    if not given.exists():
        report = DataReport(path=given)
        report.errors.append(f"{given}: no such file or folder; pass a TAU dataset root (with "
                             "meta.csv and audio/) or a labels CSV")  # fmt: skip
        return report
    if given.is_file():
        if given.name == "meta.csv":
            return scan_tau(given.parent, **tau_kw)  # type: ignore[arg-type]
        if given.suffix.lower() in (".csv", ".tsv", ".txt"):
            return _folder_split_note(scan_folder(given, **folder_kw), split)  # type: ignore[arg-type]
        report = DataReport(path=given)
        report.errors.append(f"{given}: not a dataset; pass a TAU dataset root or a labels CSV")
        return report
    looks_tau = any((given / p).exists() for p in ("meta.csv", "audio", "evaluation_setup"))
    if not looks_tau and find_labels(given) is not None:
        return _folder_split_note(scan_folder(given, **folder_kw), split)  # type: ignore[arg-type]
    report = scan_tau(given, **tau_kw)  # type: ignore[arg-type]
    if not looks_tau and not is_tau_root(given) and report.errors:
        # neither layout: say both were tried (the TAU message names nearby roots if any)
        msg = report.errors[0]
        if "not a TAU dataset root" in msg:
            report.errors[0] = (f"{given}: not a dataset: no meta.csv and audio/ (TAU layout) "
                                f"here or one level up or down, and no labels.csv (plain folder); "
                                "pass a TAU dataset root or a labels CSV")  # fmt: skip
    return report


def _folder_split_note(report: DataReport, split: str) -> DataReport:
    if split != "fold1":
        report.warnings.append(f"split '{split}' applies to TAU layouts only and was ignored; "
                               "a labels CSV takes its split from its split column")  # fmt: skip
    return report


def load_dataset(
    path: str | Path | None,
    *,
    clip_seconds: float | None = None,
    split: str = "fold1",
    skip_missing: bool = False,
    skip_unknown_labels: bool = False,
    progress: bool = True,
    evaluation_only: bool = False,
) -> Dataset:
    """The dataset for ``--data PATH`` (None = synthetic default for ``clip_seconds``);
    ``evaluation_only``: a labels CSV may have no training clips (released weights).

    Raises :class:`DatasetError` with a one-line message naming the file and the fix.
    """
    return check_dataset(path, clip_seconds=clip_seconds, split=split, skip_missing=skip_missing,
                         skip_unknown_labels=skip_unknown_labels, progress=progress,
                         evaluation_only=evaluation_only).raise_for_errors()  # fmt: skip
