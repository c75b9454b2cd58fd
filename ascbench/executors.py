"""Executors: where the jobs of ``ascbench run`` execute.

:func:`execute` is the driver all executors share. It plans the jobs (teachers before their
students), skips finished ones with ``resume``, hands the others to an executor and writes
each entry atomically (:class:`~ascbench.leaderboard.ResultStore`) as soon as it arrives, so an
interrupted run keeps every finished entry and ``--resume`` skips them.

* :class:`LocalExecutor` (the default) runs the jobs on this machine: one after the other in
  this process (``jobs=1``), or ``jobs`` at a time, each in a worker process of its own
  (``--jobs N``; the command line's default is one job per core, each with one torch thread).
* :class:`RayExecutor` runs every job as a Ray task (``pip install 'ascbench[ray]'``) on a
  local Ray instance or a cluster (``--address``), each asking for ``threads`` CPUs and, with a
  CUDA device, one GPU. Workers rebuild the plugin registry themselves (a registry need not be
  picklable) and read the dataset, the caches and the results directory from the paths the
  driver resolved, so on several machines these must be on a shared filesystem.

A job waits for the jobs it depends on (:func:`dependencies`): its teacher, and the earlier job
that trains the same model the same way (whose weights it then reuses, as the local executor
does). Worker processes and Ray tasks get a job only when those have been delivered and
written (:func:`schedule`), so the reuse of trained weights is the same with every executor.

Float reductions on the CPU depend on torch's intra-op thread count, so both executors run
every job under an explicit ``torch.set_num_threads(settings.threads)``: the same seed and the
same ``--cpus-per-job`` give the same numbers with any executor and any ``--jobs``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ascbench.plugins import Registry
from ascbench.runner import (
    Job,
    RunError,
    RunSettings,
    RunSummary,
    plan,
    teacher_of,
    training_identity,
)
from ascbench.systems import System

#: Without --cpus-per-job, a Ray job asks for this many CPUs (fewer if no node has them).
DEFAULT_RAY_CPUS = 4
#: A Ray task whose worker or node dies is tried once more, then recorded as failed.
RAY_MAX_RETRIES = 1
RAY_INSTALL = "pip install 'ascbench[ray]'"


def machine_cores() -> int:
    """The CPU cores this process may use (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)  # pragma: no cover - macOS, Windows


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)``; restore the previous count after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# -- what every executor shares -----------------------------------------------------------------
def dependencies(jobs: Sequence[Job], registry: Registry) -> dict[Job, list[Job]]:
    """For each job, the jobs among ``jobs`` that must be finished before it starts: its
    teacher (same seed) and the first earlier job that trains the same model the same way."""
    present = set(jobs)
    first_training: dict[tuple[str, int], Job] = {}
    deps: dict[Job, list[Job]] = {}
    for job in jobs:
        system = registry.system(job.system)
        wait: list[Job] = []
        teacher = teacher_of(system)
        if teacher is not None and Job(teacher, job.seed) in present:
            wait.append(Job(teacher, job.seed))
        if teacher is None:  # a distilled model depends on its teacher: never shared
            identity = json.dumps(training_identity(system), sort_keys=True, default=str)
            earlier = first_training.setdefault((identity, job.seed), job)
            if earlier != job:
                wait.append(earlier)
        deps[job] = wait
    return deps


@dataclass
class Driver:
    """Writes entries as they arrive and keeps the run's log lines and summary."""

    settings: RunSettings
    labels: dict[Job, str]
    on_entry: Callable[[Any], None] | None = None
    summary: RunSummary = field(default_factory=RunSummary)

    def say(self, job: Job | None, message: str) -> None:
        from tqdm import tqdm

        prefix = f"{self.labels[job]}: " if job is not None else ""
        tqdm.write(prefix + message, file=sys.stderr)

    def deliver(self, job: Job, entry) -> None:
        """Store a finished entry atomically and report it."""
        from ascbench.leaderboard import ResultStore

        ResultStore(self.settings.results).write(entry, overwrite=True)
        self.summary.written.append(entry)
        if self.on_entry is not None:
            self.on_entry(entry)
        self.say(job, entry.status + (f": {entry.reason}" if entry.reason else ""))


class Executor(Protocol):
    """Runs jobs and hands each finished entry to ``driver.deliver``."""

    name: str

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        """Start what the executor needs; return the settings the jobs run with."""

    def run(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
            driver: Driver) -> None: ...  # fmt: skip

    def close(self) -> None: ...


def execute(
    registry: Registry,
    settings: RunSettings,
    systems: Sequence[System],
    seeds: Sequence[int],
    executor: Executor | None = None,
    *,
    on_entry: Callable[[Any], None] | None = None,
) -> RunSummary:
    """Run every job of ``systems`` x ``seeds`` with ``executor`` (default: local), writing each
    entry as soon as it is finished; with ``settings.resume`` finished entries are skipped."""
    from ascbench.leaderboard import ResultStore

    start = time.perf_counter()
    executor = executor or LocalExecutor()
    store = ResultStore(settings.results)
    jobs = plan(systems, seeds, registry)
    width = int(math.log10(max(len(jobs), 1))) + 1
    labels = {
        job: f"[{i:>{width}}/{len(jobs)}] {job.system} seed {job.seed}"
        for i, job in enumerate(jobs, start=1)
    }
    driver = Driver(settings, labels, on_entry)
    pending = []
    for job in jobs:
        if settings.resume and store.exists(job.system, settings.ruleset.name, job.seed):
            driver.say(job, "finished earlier, skipped (--resume)")
            driver.summary.skipped.append(job)
        else:
            pending.append(job)
    if pending:
        try:
            job_settings = executor.prepare(settings, registry)
            threads = job_settings.threads
            driver.say(
                None,
                f"{len(pending)} jobs on the {executor.name} executor, each with {threads} "
                f"torch thread{'s' if threads != 1 else ''}",
            )
            executor.run(pending, registry, job_settings, driver)
        finally:
            executor.close()
    driver.summary.seconds = time.perf_counter() - start
    return driver.summary


# -- scheduling jobs on workers ------------------------------------------------------------------
@dataclass
class Workers:
    """How :func:`schedule` drives a set of workers (a process pool, a Ray cluster)."""

    #: start ``job``; returns a handle for the other callbacks
    submit: Callable[[Job], Any]
    #: the handles among those given that have finished (may be none: it returns within ~1 s,
    #: so that the driver stays responsive to Ctrl-C)
    wait: Callable[[list], list]
    #: a finished job's entry as JSON; raises if the job produced none
    result: Callable[[Any], str]
    #: the one-line reason recorded for a job whose ``result`` raised ``exc``
    failure: Callable[[BaseException], str]
    #: stop jobs that are still running (the run was interrupted)
    cancel: Callable[[list], None]
    #: at most this many jobs at a time (None: as many as are ready)
    limit: int | None = None
    #: what the driver says when a job is handed out
    started_message: str = "starting"
    #: whether a job whose ``result`` raised ``exc`` is tried again (once per job at most)
    retry: Callable[[BaseException], bool] = lambda exc: False


def schedule(jobs: Sequence[Job], registry: Registry, settings: RunSettings, driver: Driver,
             workers: Workers) -> None:  # fmt: skip
    """Hand each job to ``workers`` once its :func:`dependencies` are delivered, in plan order,
    and deliver every entry as it arrives; a job that produces no entry becomes a failed one."""
    from ascbench.leaderboard import parse_entry, utc_now

    waiting = dependencies(jobs, registry)
    started: dict[Job, Any] = {}
    running: dict[Any, Job] = {}
    retried: set[Job] = set()

    def submit_ready() -> None:
        for job in [j for j, deps in waiting.items() if not deps]:
            if workers.limit is not None and len(running) >= workers.limit:
                return
            del waiting[job]
            started.setdefault(job, utc_now())
            running[workers.submit(job)] = job
            driver.say(job, workers.started_message)

    submit_ready()
    try:
        while running:
            for handle in workers.wait(list(running)):
                job = running.pop(handle)
                try:
                    text = workers.result(handle)
                    entry = parse_entry(json.loads(text), f"worker of {driver.labels[job]}")
                except Exception as exc:  # raised outside run_job, or the worker died
                    if job not in retried and workers.retry(exc):
                        retried.add(job)
                        waiting = {job: [], **waiting}  # first in line again
                        driver.say(job, f"{workers.failure(exc)}; trying once more")
                        continue
                    entry = failed_entry(job, registry, settings, workers.failure(exc),
                                         started[job])  # fmt: skip
                driver.deliver(job, entry)
                for deps in waiting.values():
                    if job in deps:
                        deps.remove(job)
            submit_ready()
    except BaseException:  # interrupted: finished entries are written; stop the rest
        workers.cancel(list(running))
        raise


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


# -- local --------------------------------------------------------------------------------------
class LocalExecutor:
    """Jobs on this machine: with ``jobs=1`` one after the other in this process, in plan order
    (teachers first); with more, ``jobs`` at a time, each in a worker process of its own
    (started once, then given one job after another; a student waits for its teacher)."""

    name = "local"

    def __init__(self, jobs: int = 1, plugins: Sequence[str] = ()):
        if jobs < 1:
            raise RunError(f"--jobs {jobs} must be at least 1")
        self.jobs = int(jobs)
        self.plugins = tuple(plugins)
        self._workers: list = []
        self._dataset = None

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        threads = settings.threads or max(1, machine_cores() // self.jobs)
        if self.jobs == 1:
            return dataclasses.replace(settings, threads=threads)
        import ascbench.runner as runner

        # fail early, and generate the synthetic default once, before workers start
        self._dataset = runner.load_run_dataset(settings)
        return _shared_settings(settings, threads, progress=settings.progress)

    def run(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
            driver: Driver) -> None:  # fmt: skip
        if self.jobs == 1 or len(jobs) == 1:
            self._run_here(jobs, registry, settings, driver)
        else:
            self._run_in_processes(jobs, registry, settings, driver)

    def _run_here(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
                  driver: Driver) -> None:  # fmt: skip
        import ascbench.runner as runner  # looked up at call time, so tests can wrap run_job

        dataset = self._dataset or runner.load_run_dataset(settings)
        with torch_threads(settings.threads):
            for job in jobs:
                driver.say(job, "starting")
                driver.deliver(job, runner.run_job(job, registry, settings, dataset))

    def _run_in_processes(
        self, jobs: Sequence[Job], registry: Registry, settings: RunSettings, driver: Driver
    ) -> None:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED
        from concurrent.futures import wait as wait_futures
        from concurrent.futures.process import BrokenProcessPool

        from tqdm import tqdm

        size = min(self.jobs, len(jobs))
        context = multiprocessing.get_context("spawn")  # no fork of a process running threads
        lock = context.RLock()
        tqdm.set_lock(lock)  # worker processes draw their bars under one lock
        setup = worker_setup(self.plugins)
        # one single-process pool per worker: a worker that dies (a segfault, the OOM killer)
        # breaks its own pool only, not the jobs running in the other workers
        self._workers = [None] * size
        slot_of: dict[Any, int] = {}

        def submit(job: Job):
            slot = next(i for i in range(size) if i not in slot_of.values())
            for attempt in (1, 2):
                worker = self._workers[slot]
                if worker is None or getattr(worker, "_broken", False):
                    _stop_worker(worker, kill=True)
                    worker = self._workers[slot] = _new_worker(context, lock, slot)
                try:
                    future = worker.submit(run_worker_job, job, settings, setup)
                    break
                except BrokenProcessPool:
                    self._workers[slot] = _stop_worker(worker, kill=True)
                    if attempt == 2:
                        raise
            slot_of[future] = slot
            return future

        def result(future) -> str:
            slot_of.pop(future, None)  # the worker is free again
            return future.result()

        def wait(futures: list) -> list:
            done, _ = wait_futures(futures, timeout=1.0, return_when=FIRST_COMPLETED)
            return list(done)

        def failure(exc: BaseException) -> str:
            if isinstance(exc, BrokenProcessPool):
                return one_line_failure("the worker process died", exc)
            return one_line_failure("the job raised outside the run", exc)

        schedule(jobs, registry, settings, driver, Workers(
            submit=submit,
            wait=wait,
            result=result,
            failure=failure,
            cancel=lambda futures: self._shutdown(kill=True),
            limit=size,
            retry=lambda exc: isinstance(exc, BrokenProcessPool),
        ))  # fmt: skip

    def _shutdown(self, kill: bool) -> None:
        workers, self._workers = self._workers, []
        for worker in workers:
            _stop_worker(worker, kill)

    def close(self) -> None:
        self._shutdown(kill=False)


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


# -- worker processes (local pool and Ray) ------------------------------------------------------
@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process (local or Ray) needs to rebuild the driver's plugin registry and
    caches."""

    plugins: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()
    environ: tuple[tuple[str, str], ...] = ()


def _module_dirs(modules: Sequence[str]) -> tuple[str, ...]:
    """Folders to put on a worker's ``sys.path`` so that it imports ``modules`` from where the
    driver would (a ``--plugin`` module that is a file rather than an installed package)."""
    dirs: list[str] = []
    for module in modules:
        top = module.split(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or spec.origin in {"built-in", "frozen"}:
            continue
        origin = Path(spec.origin).resolve()
        folder = origin.parent.parent if spec.submodule_search_locations else origin.parent
        if "site-packages" not in folder.parts and str(folder) not in dirs:
            dirs.append(str(folder))
    return tuple(dirs)


def _absolute(path: Path | None) -> Path | None:
    return None if path is None else Path(path).expanduser().absolute()


def _shared_settings(settings: RunSettings, threads: int, progress: bool = False) -> RunSettings:
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


@contextmanager
def _worker_environment(setup: WorkerSetup) -> Iterator[None]:
    """Apply the driver's environment variables and module folders for one task."""
    saved = {name: os.environ.get(name) for name, _ in setup.environ}
    added = [p for p in setup.sys_path if p not in sys.path]
    os.environ.update(dict(setup.environ))
    sys.path[:0] = added
    importlib.invalidate_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for path in added:
            if path in sys.path:
                sys.path.remove(path)


#: Per worker process: registries and datasets, kept between the jobs one worker runs.
_WORKER_STATE: dict[Any, Any] = {}


def worker_setup(plugins: Sequence[str]) -> WorkerSetup:
    """What a worker process needs to load the driver's plugins and caches: the ``--plugin``
    modules and their folders, ``ASCBENCH_CACHE`` and ``ASCBENCH_PLUGINS``."""
    from ascbench.paths import cache_dir
    from ascbench.plugins import ENV_PLUGINS, _plugin_modules_from_env

    environ = {"ASCBENCH_CACHE": str(cache_dir().absolute())}
    if os.environ.get(ENV_PLUGINS):
        environ[ENV_PLUGINS] = os.environ[ENV_PLUGINS]
    modules = [*plugins, *_plugin_modules_from_env()]
    return WorkerSetup(tuple(plugins), _module_dirs(modules), tuple(sorted(environ.items())))


def run_worker_job(job: Job, settings: RunSettings, setup: WorkerSetup) -> str:
    """One job in a worker process (a local pool process or a Ray task): rebuild the registry,
    run the job with the driver's thread count, return the entry as JSON (validated and written
    by the driver)."""
    import socket

    import ascbench.runner as runner
    from ascbench.plugins import load_registry

    with _worker_environment(setup):
        registry = _WORKER_STATE.get(setup)
        if registry is None:
            registry = _WORKER_STATE[setup] = load_registry(list(setup.plugins))
        if job.system not in registry.entries["system"]:
            problems = "; ".join(
                f"plugin '{p.name}': {e}" for p in registry.plugins for e in p.errors
            )
            raise RunError(
                f"system '{job.system}' is not registered in the worker on "
                f"{socket.gethostname()}"
                + (f" ({problems})" if problems else "")
                + "; install the plugin on every node (or put --plugin modules on a shared path)"
            )
        key = ("dataset", settings.data, settings.ruleset.clip_seconds, setup.environ)
        dataset = _WORKER_STATE.get(key)
        if dataset is None:
            dataset = _WORKER_STATE[key] = runner.load_run_dataset(settings)
        with torch_threads(settings.threads):
            return runner.run_job(job, registry, settings, dataset).to_json()


def failed_entry(job: Job, registry: Registry, settings: RunSettings, reason: str, started):
    """A ``failed`` entry for a job that produced none (its worker died), built on the driver."""
    from ascbench.runner import job_entry

    return job_entry(job, registry, settings, started=started, error=reason,
                     torch_threads=settings.threads)  # fmt: skip


# -- Ray ----------------------------------------------------------------------------------------
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

    def __init__(self, address: str | None = None, plugins: Sequence[str] = ()):
        self.address = address
        self.plugins = tuple(plugins)
        self._ray = None
        self._started = False

    # -- starting ----------------------------------------------------------------------------
    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        import ascbench.runner as runner

        if settings.device.startswith("cuda:"):
            raise RunError(
                f"--device {settings.device}: with --executor ray, Ray gives each job its own "
                "GPU; use --device cuda"
            )
        runner.load_run_dataset(settings)  # fail early; generates the synthetic default once
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
        return _shared_settings(settings, threads)

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
    def run(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
            driver: Driver) -> None:  # fmt: skip
        ray = self._ray or import_ray()
        gpu = settings.device.startswith("cuda")
        task = ray.remote(run_worker_job)
        resources = dict(
            num_cpus=settings.threads, num_gpus=1 if gpu else 0, max_retries=RAY_MAX_RETRIES
        )
        settings_ref, setup = ray.put(settings), worker_setup(self.plugins)

        def submit(job: Job):
            name = f"ascbench {job.system} seed {job.seed}"
            return task.options(name=name, **resources).remote(job, settings_ref, setup)

        def cancel(refs: list) -> None:
            for ref in refs:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or its worker is gone
                    pass

        schedule(jobs, registry, settings, driver, Workers(
            submit=submit,
            wait=lambda refs: ray.wait(refs, num_returns=1, timeout=1.0)[0],
            result=ray.get,
            failure=lambda exc: one_line_failure("the Ray task did not finish", exc),
            cancel=cancel,
            started_message="submitted",
        ))  # fmt: skip
