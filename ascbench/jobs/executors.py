"""Executors: where the jobs of ``ascbench run`` execute. Each takes a job function and its
arguments and returns a :class:`concurrent.futures.Future` of its result; the driver
(:mod:`ascbench.jobs.driver`) decides what runs when and writes what comes back.

* :class:`InProcessExecutor` (``--jobs 1``, the default on one core) runs each job in this
  process when it is submitted, under the run's torch thread count.
* :class:`ProcessExecutor` (``--jobs N``) runs ``N`` jobs at a time, each in a worker process of
  its own (spawned once, then given one job after another). A worker that dies (a segfault,
  the OOM killer) breaks its own pool only; its job is tried once more.
* :class:`RayExecutor` runs every job as a Ray task (``pip install 'ascbench[ray]'``) on a
  local Ray instance or a cluster (``--address``), each asking for ``threads`` CPUs and, with a
  CUDA device, one GPU; ``ObjectRef.future()`` gives the future. Workers rebuild the plugin
  registry themselves and read the dataset, caches and results directory from the paths the
  driver resolved, so on several machines these must be on a shared filesystem.

Float reductions on the CPU depend on torch's intra-op thread count, so every job function runs
under an explicit ``torch.set_num_threads(settings.threads)`` (:mod:`ascbench.jobs.workers`):
the same seed and the same ``--cpus-per-job`` give the same numbers with any executor and any
``--jobs``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ascbench.jobs.plan import RAY_INSTALL, RunError, RunSettings, load_run_dataset
from ascbench.machine import machine_cores

if TYPE_CHECKING:
    from ascbench.plugins import Registry

#: Without --cpus-per-job, a Ray job asks for this many CPUs (fewer if no node has them).
DEFAULT_RAY_CPUS = 4
#: A Ray task whose worker or node dies is tried once more, then recorded as failed.
RAY_MAX_RETRIES = 1


class Executor(Protocol):
    """Runs job functions somewhere and returns futures of their results."""

    name: str
    #: whether job functions run in this process (they may then take unpicklable arguments)
    in_process: bool
    #: at most this many jobs at a time (None: as many as are ready)
    limit: int | None
    #: what the driver says when it hands a job out
    started_message: str

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        """Start what the executor needs; return the settings the jobs run with."""

    def submit(self, name: str, function: Callable[..., Any], *args: Any) -> Future:
        """Start ``function(*args)`` (a job called ``name``); a future of its result."""

    def failure(self, exc: BaseException) -> str:
        """The one-line reason recorded for a job whose future raised ``exc``."""

    def retry(self, exc: BaseException) -> bool:
        """Whether a job whose future raised ``exc`` is tried again (once at most)."""

    def cancel(self, futures: list[Future]) -> None:
        """Stop jobs that are still running (the run was interrupted)."""

    def close(self) -> None: ...


def one_line_failure(prefix: str, exc: BaseException) -> str:
    """``prefix: ExceptionType: first line`` for a job that produced no entry."""
    cause = getattr(exc, "cause", None)  # Ray wraps the task's exception
    if isinstance(cause, BaseException) and cause is not exc:
        exc = cause
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"{prefix}: {type(exc).__name__}: {first}".rstrip(": ")


# -- in this process ------------------------------------------------------------------------------
class InProcessExecutor:
    """Each job runs in this process when it is submitted, one after the other."""

    name = "local"
    in_process = True
    limit = 1
    started_message = "starting"

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        return dataclasses.replace(settings, threads=settings.threads or machine_cores())

    def submit(self, name: str, function: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(function(*args))
        except Exception as exc:  # KeyboardInterrupt and SystemExit stop the run
            future.set_exception(exc)
        return future

    def failure(self, exc: BaseException) -> str:
        return one_line_failure("the job raised outside the run", exc)

    def retry(self, exc: BaseException) -> bool:
        return False

    def cancel(self, futures: list[Future]) -> None:
        pass

    def close(self) -> None:
        pass


# -- worker processes on this machine -------------------------------------------------------------
class ProcessExecutor:
    """``jobs`` jobs at a time, each in a worker process of its own (spawned once, then given
    one job after another)."""

    name = "local"
    in_process = False
    started_message = "starting"

    def __init__(self, jobs: int):
        if jobs < 1:
            raise RunError(f"--jobs {jobs} must be at least 1")
        self.limit = int(jobs)
        self._context = None
        self._lock = None
        #: one single-process pool per worker slot, and the future each slot runs
        self._workers: list = []
        self._running: list[Future | None] = []

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        import multiprocessing

        from tqdm import tqdm

        threads = settings.threads or max(1, machine_cores() // self.limit)
        load_run_dataset(settings)  # fail early; generate the synthetic default once
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._lock = self._context.RLock()
        tqdm.set_lock(self._lock)  # worker processes draw their bars under one lock
        self._workers = [None] * self.limit
        self._running = [None] * self.limit
        return shared_settings(settings, threads, progress=settings.progress)

    def submit(self, name: str, function: Callable[..., Any], *args: Any) -> Future:
        from concurrent.futures.process import BrokenProcessPool

        slot = next(i for i, f in enumerate(self._running) if f is None or f.done())
        for attempt in (1, 2):
            worker = self._workers[slot]
            if worker is None or getattr(worker, "_broken", False):
                _stop_worker(worker, kill=True)
                worker = self._workers[slot] = _new_worker(self._context, self._lock, slot)
            try:
                future = worker.submit(function, *args)
                break
            except BrokenProcessPool:
                self._workers[slot] = _stop_worker(worker, kill=True)
                if attempt == 2:
                    raise
        self._running[slot] = future
        return future

    def failure(self, exc: BaseException) -> str:
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, BrokenProcessPool):
            return one_line_failure("the worker process died", exc)
        return one_line_failure("the job raised outside the run", exc)

    def retry(self, exc: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)

    def cancel(self, futures: list[Future]) -> None:
        self._shutdown(kill=True)

    def _shutdown(self, kill: bool) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            _stop_worker(worker, kill)

    def close(self) -> None:
        self._shutdown(kill=False)


def local_executor(jobs: int = 1) -> InProcessExecutor | ProcessExecutor:
    """The executor of ``--jobs N`` on this machine: in this process for one job at a time."""
    if jobs < 1:
        raise RunError(f"--jobs {jobs} must be at least 1")
    return InProcessExecutor() if jobs == 1 else ProcessExecutor(jobs)


def _new_worker(context, lock, line: int):
    """A pool of one worker process (spawned now, kept for the jobs that follow)."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=1, mp_context=context, initializer=_start_pool_worker, initargs=(lock, line)
    )


def _stop_worker(worker, kill: bool) -> None:
    """Shut a worker's pool down; with ``kill``, without waiting for its running job."""
    if worker is None:
        return None
    if kill:
        for process in list((getattr(worker, "_processes", None) or {}).values()):
            if process.is_alive():
                process.kill()
    worker.shutdown(wait=True, cancel_futures=True)
    return None


def _start_pool_worker(lock, line: int) -> None:
    """Initialise a local worker process: its own terminal line for progress bars, Ctrl-C left
    to the driver (which stops the workers), and death with the driver if it is killed."""
    import signal

    from tqdm import tqdm

    from ascbench import progress

    tqdm.set_lock(lock)
    progress.LINE = line
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:  # PR_SET_PDEATHSIG: SIGTERM when the driver process exits, even by SIGKILL
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass


def _absolute(path: Path | None) -> Path | None:
    return None if path is None else Path(path).expanduser().absolute()


def shared_settings(settings: RunSettings, threads: int, progress: bool = False) -> RunSettings:
    """The settings as a worker process (here or on another machine) gets them: absolute paths
    (relative ones mean the driver's working directory), an explicit thread count, progress
    bars only if asked (a Ray worker's output goes to the driver's log, not a terminal)."""
    data = settings.data
    if data is not None and Path(data).expanduser().exists():
        data = str(Path(data).expanduser().absolute())
    return dataclasses.replace(
        settings,
        data=data,
        results=_absolute(settings.results),
        cache_root=_absolute(settings.cache_root),
        weights=_absolute(settings.weights),
        progress=progress,
        threads=threads,
    )


# -- Ray ---------------------------------------------------------------------------------------
def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RunError(f"--executor ray needs Ray, which is not installed; {RAY_INSTALL}") from None
    return ray


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """A one-line error if ``host:port`` (or ``ray://host:port``) does not accept connections:
    Ray itself keeps retrying an unreachable address for minutes."""
    import re
    import socket

    match = re.fullmatch(r"(?:ray://)?\[?([\w.:-]+?)\]?:(\d+)", address or "")
    if match is None:  # None, 'auto', 'local': Ray answers those quickly
        return
    try:
        socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout).close()
    except OSError as exc:
        raise RunError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); check the "
            "address that `ray start --head` printed, or use --address auto on the head node"
        ) from None


class RayExecutor:
    """Every job a Ray task; finished entries stream back to the driver, which writes them."""

    name = "ray"
    in_process = False
    limit = None
    started_message = "submitted"

    def __init__(self, address: str | None = None):
        self.address = address
        self._ray = None
        self._started = False
        self._resources: dict[str, Any] = {}
        self._refs: dict[Future, Any] = {}
        self._remote: dict[Any, Any] = {}
        self._settings: tuple[RunSettings, Any] | None = None

    # -- starting ----------------------------------------------------------------------------
    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        if settings.device.startswith("cuda:"):
            raise RunError(
                f"--device {settings.device}: with --executor ray, Ray gives each job its own "
                "GPU; use --device cuda"
            )
        load_run_dataset(settings)  # fail early; generates the synthetic default once
        ray = self._ray = import_ray()
        if not ray.is_initialized():
            self._connect(ray)
        cpus, gpus = self._largest_node(ray)
        threads = settings.threads or max(1, min(DEFAULT_RAY_CPUS, cpus))
        gpu = settings.device.startswith("cuda")
        if threads > cpus or (gpu and gpus < 1):
            need = f"{threads} CPUs" + (" and a GPU" if gpu else "")
            message = (
                f"no node of the Ray cluster has {need} (largest: {cpus} CPUs, {gpus} GPUs); "
                "lower --cpus-per-job" + (" or add GPU nodes" if gpu else "")
            )
            if self._started:  # a local instance never grows: the jobs would wait forever
                raise RunError(message)
            print(f"ascbench: warning: {message} (waiting for the autoscaler)", file=sys.stderr)
        self._resources = dict(
            num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=RAY_MAX_RETRIES
        )
        return shared_settings(settings, threads)

    def _connect(self, ray) -> None:
        import logging

        # without --address: RAY_ADDRESS, else a new local instance ('local'), never the last
        # cluster `ray start` ran here, which ray.init() would otherwise pick silently
        address = self.address or os.environ.get("RAY_ADDRESS") or "local"
        _check_reachable(address)
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"at {self.address}" if self.address else "(local instance)"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
            raise RunError(
                f"cannot start or reach the Ray cluster {where}: {first}; start one with "
                "`ray start --head` and pass --address auto (or its address)"
            ) from None
        self._started = True

    @staticmethod
    def _largest_node(ray) -> tuple[int, int]:
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        cpus = max((int(r.get("CPU", 0)) for r in nodes), default=0)
        gpus = max((int(r.get("GPU", 0)) for r in nodes), default=0)
        return cpus, gpus

    def close(self) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
        self._started = False

    # -- running -----------------------------------------------------------------------------
    def submit(self, name: str, function: Callable[..., Any], *args: Any) -> Future:
        ray = self._ray or import_ray()
        task = self._remote.get(function)
        if task is None:
            task = self._remote[function] = ray.remote(function)
        # large arguments (the settings) are put into the object store once per run
        refs = [self._put(ray, a) for a in args]
        ref = task.options(name=f"ascbench {name}", **self._resources).remote(*refs)
        future = ref.future()
        self._refs[future] = ref
        return future

    def _put(self, ray, value: Any) -> Any:
        if not isinstance(value, RunSettings):
            return value
        if self._settings is None or self._settings[0] is not value:
            self._settings = (value, ray.put(value))
        return self._settings[1]

    def failure(self, exc: BaseException) -> str:
        return one_line_failure("the Ray task did not finish", exc)

    def retry(self, exc: BaseException) -> bool:
        return False  # Ray retries a task whose worker died itself (RAY_MAX_RETRIES)

    def cancel(self, futures: list[Future]) -> None:
        ray = self._ray
        for future in futures:
            try:
                ray.cancel(self._refs[future], force=True)
            except Exception:  # already finished or its worker is gone
                pass
