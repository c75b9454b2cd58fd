"""Collecting provenance for an entry: versions, hardware, kernels, git commit and timestamps.

What determines the numbers of a run, besides data, seed and budget: the torch thread count
(float reductions are split by it), the CPU kernels torch picks (:func:`kernel_info`: the
instruction set ATen dispatches to, whether oneDNN runs the convolutions and its version, the
int8 engine, environment overrides), and the torch and numpy versions. All are recorded.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ascbench.leaderboard.entry import (
    Budget,
    DatasetInfo,
    Hardware,
    Kernels,
    Provenance,
    utc_now,
)

#: Environment variables that override which CPU kernels torch, oneDNN or MKL run.
KERNEL_ENVIRONMENT = (
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "ONEDNN_DEFAULT_FPMATH_MODE",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
)


def cpu_model() -> str:
    """The CPU model name (from /proc/cpuinfo on Linux, else the platform module)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    name = line.split(":", 1)[1].strip()
                    if name:
                        return " ".join(name.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_info(device: str = "cpu") -> Hardware:
    """CPU model, visible cores and, when CUDA is available, the GPU name of ``device``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            index = torch.device(device).index if device.startswith("cuda") else None
            gpu = torch.cuda.get_device_name(index or 0)
    except Exception:  # a broken CUDA setup must not stop a run from being recorded
        gpu = None
    return Hardware(cpu=cpu_model(), cores=max(1, cores or 1), gpu=gpu)


def _build_version(config: str, pattern: str) -> str | None:
    """The version matching ``pattern`` (one group) in ``torch.__config__.show()`` text."""
    match = re.search(pattern, config)
    return match.group(1) if match else None


def kernel_info() -> Kernels:
    """What selects torch's CPU kernels in this process (see :class:`Kernels`)."""
    import torch

    try:
        capability = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # an old or unusual build: record that it is unknown, do not fail
        capability = "unknown"
    try:
        config = torch.__config__.show()
    except Exception:
        config = ""
    mkldnn = torch.backends.mkldnn
    engine = getattr(torch.backends.quantized, "engine", None)
    return Kernels(
        cpu_capability=capability,
        onednn=bool(mkldnn.is_available() and mkldnn.enabled),
        onednn_version=_build_version(config, r"(?:MKL-DNN|oneDNN)\s+v?(\d[\w.]*)"),
        mkl_version=_build_version(config, r"Math Kernel Library Version (\d[\w.]*)"),
        quantized_engine=str(engine) if engine else None,
        environment={k: os.environ[k] for k in KERNEL_ENVIRONMENT if os.environ.get(k)},
    )


def git_state(directory: str | Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout holding ``directory`` (default: the ascbench package).

    Only reads: ``git rev-parse`` and ``git status`` without taking optional locks. Returns
    (None, None) outside a checkout or without git.
    """
    where = Path(directory) if directory else Path(__file__).resolve().parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(where), *args],
                capture_output=True,
                text=True,
                timeout=10,
                env=env,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None, None
    status = git("status", "--porcelain", "--untracked-files=no")
    return commit, (bool(status) if status is not None else None)


def collect_provenance(
    *,
    seed: int,
    budget: Budget,
    device: str,
    started: datetime,
    finished: datetime | None = None,
    dataset: DatasetInfo | None = None,
    plugin_versions: dict[str, str] | None = None,
    torch_threads: int | None = None,
) -> Provenance:
    """Provenance of a run on this machine; ``finished`` defaults to now, ``torch_threads`` to
    this thread's ``torch.get_num_threads()``. Call it where the job ran: the kernels
    (:func:`kernel_info`) are those of the calling process."""
    import numpy
    import torch

    from ascbench import __version__

    finished = finished or utc_now()
    commit, dirty = git_state()
    return Provenance(
        ascbench_version=__version__,
        plugin_versions=dict(plugin_versions or {}),
        torch_version=str(torch.__version__),
        python_version=sys.version.split()[0],
        platform=platform.platform(),
        hardware=hardware_info(device),
        dataset=dataset,
        seed=seed,
        budget=budget,
        device=device,
        started=started,
        finished=finished,
        wall_seconds=max(0.0, (finished - started).total_seconds()),
        git_commit=commit,
        git_dirty=dirty,
        torch_threads=torch_threads or torch.get_num_threads(),
        numpy_version=str(numpy.__version__),
        kernels=kernel_info(),
    )
