"""Executors: where the jobs of ``ascbench run`` execute.

:func:`execute` is the driver all executors share. It plans the jobs (teachers before their
students), skips finished ones with ``resume``, hands the others to an executor and writes
each entry atomically (:class:`~ascbench.leaderboard.ResultStore`) as soon as it arrives, so an
interrupted run keeps every finished entry and ``--resume`` skips them.

* :class:`LocalExecutor` (the default) runs the jobs one after the other in this process.
* :class:`RayExecutor` runs every job as a Ray task (``pip install 'ascbench[ray]'``) on a
  local Ray instance or a cluster (``--address``), each asking for ``threads`` CPUs and, with a
  CUDA device, one GPU. Workers rebuild the plugin registry themselves (a registry need not be
  picklable) and read the dataset, the caches and the results directory from the paths the
  driver resolved, so on several machines these must be on a shared filesystem.

A job waits for the jobs it depends on (:func:`dependencies`): its teacher, and the earlier job
that trains the same model the same way (whose weights it then reuses, as the local executor
does). The Ray executor submits a job only when those have been delivered and written, so the
order of writes and the reuse of trained weights are the same as with the local executor.

Float reductions on the CPU depend on torch's intra-op thread count, so both executors run
every job under an explicit ``torch.set_num_threads(settings.threads)``: the same seed and the
same ``--cpus-per-job`` give the same numbers with either executor.
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


# -- local --------------------------------------------------------------------------------------
class LocalExecutor:
    """One job after the other in this process, in plan order (teachers first)."""

    name = "local"

    def prepare(self, settings: RunSettings, registry: Registry) -> RunSettings:
        return dataclasses.replace(settings, threads=settings.threads or machine_cores())

    def run(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
            driver: Driver) -> None:  # fmt: skip
        import ascbench.runner as runner  # looked up at call time, so tests can wrap run_job

        dataset = runner.load_run_dataset(settings)
        with torch_threads(settings.threads):
            for job in jobs:
                driver.say(job, "starting")
                driver.deliver(job, runner.run_job(job, registry, settings, dataset))

    def close(self) -> None:
        pass


# -- Ray ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerSetup:
    """What a Ray worker needs to rebuild the driver's plugin registry and caches."""

    plugins: tuple[str, ...] = ()
    sys_path: tuple[str, ...] = ()
    environ: tuple[tuple[str, str], ...] = ()


def import_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RunError(f"--executor ray needs Ray, which is not installed; {RAY_INSTALL}") from None
    return ray


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


def _shared_settings(settings: RunSettings, threads: int) -> RunSettings:
    """The settings as a worker on another machine gets them: absolute paths (relative ones
    mean the driver's working directory), no progress bars, an explicit thread count."""
    data = settings.data
    if data is not None and Path(data).expanduser().exists():
        data = str(Path(data).expanduser().absolute())
    return dataclasses.replace(
        settings,
        data=data,
        results=_absolute(settings.results),
        cache_root=_absolute(settings.cache_root),
        weights=_absolute(settings.weights),
        progress=False,
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


def run_ray_task(job: Job, settings: RunSettings, setup: WorkerSetup) -> str:
    """One job inside a Ray worker: rebuild the registry, run the job with the driver's thread
    count, return the entry as JSON (validated and written by the driver)."""
    import socket

    import ascbench.runner as runner
    from ascbench.plugins import load_registry

    with _worker_environment(setup):
        registry = load_registry(list(setup.plugins))
        if job.system not in registry.entries["system"]:
            problems = "; ".join(
                f"plugin '{p.name}': {e}" for p in registry.plugins for e in p.errors
            )
            raise RunError(
                f"system '{job.system}' is not registered on Ray worker {socket.gethostname()}"
                + (f" ({problems})" if problems else "")
                + "; install the plugin on every node (or put --plugin modules on a shared path)"
            )
        with torch_threads(settings.threads):
            return runner.run_job(job, registry, settings).to_json()


def _task_failure(exc: BaseException) -> str:
    """A one-line reason for a Ray task that raised or whose worker died."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException) and cause is not exc:
        exc = cause
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if len(first) > 300:
        first = first[:297] + "..."
    return f"the Ray task did not finish: {type(exc).__name__}: {first}".rstrip(": ")


def failed_entry(job: Job, registry: Registry, settings: RunSettings, reason: str, started):
    """A ``failed`` entry for a job that produced none (its task died), built on the driver."""
    from ascbench.leaderboard import Budget, build_entry, collect_provenance

    system = registry.system(job.system)
    epochs, minutes = settings.budget.for_recipe(system.recipe.epochs)
    provenance = collect_provenance(
        seed=job.seed,
        budget=Budget(full=settings.budget.full, epochs=epochs, minutes=minutes),
        device=settings.device,
        started=started,
        plugin_versions={p.name: p.version for p in registry.plugins if p.version},
    )
    plugin = next((p for p in registry.plugins if p.name == system.plugin), None)
    return build_entry(
        system=system,
        ruleset=settings.ruleset,
        seed=job.seed,
        provenance=provenance,
        error=reason,
        plugin_version=plugin.version if plugin else "",
    )


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
    def _setup(self) -> WorkerSetup:
        from ascbench.paths import cache_dir
        from ascbench.plugins import ENV_PLUGINS, _plugin_modules_from_env

        environ = {"ASCBENCH_CACHE": str(cache_dir().absolute())}
        if os.environ.get(ENV_PLUGINS):
            environ[ENV_PLUGINS] = os.environ[ENV_PLUGINS]
        modules = [*self.plugins, *_plugin_modules_from_env()]
        return WorkerSetup(self.plugins, _module_dirs(modules), tuple(sorted(environ.items())))

    def run(self, jobs: Sequence[Job], registry: Registry, settings: RunSettings,
            driver: Driver) -> None:  # fmt: skip
        from ascbench.leaderboard import parse_entry, utc_now

        ray = self._ray or import_ray()
        gpu = settings.device.startswith("cuda")
        task = ray.remote(run_ray_task)
        resources = dict(
            num_cpus=settings.threads, num_gpus=1 if gpu else 0, max_retries=RAY_MAX_RETRIES
        )
        settings_ref, setup = ray.put(settings), self._setup()
        waiting = dependencies(jobs, registry)
        started: dict[Job, Any] = {}
        running: dict[Any, Job] = {}

        def submit_ready() -> None:
            for job in [j for j, deps in waiting.items() if not deps]:
                del waiting[job]
                started[job] = utc_now()
                name = f"ascbench {job.system} seed {job.seed}"
                ref = task.options(name=name, **resources).remote(job, settings_ref, setup)
                running[ref] = job
                driver.say(job, "submitted")

        submit_ready()
        try:
            while running:
                # a timeout keeps the driver responsive to Ctrl-C while tasks run
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                if not done:
                    continue
                job = running.pop(done[0])
                try:
                    text = ray.get(done[0])
                    entry = parse_entry(json.loads(text), f"Ray task of {driver.labels[job]}")
                except Exception as exc:  # the task raised outside run_job, or its worker died
                    reason = _task_failure(exc)
                    entry = failed_entry(job, registry, settings, reason, started[job])
                driver.deliver(job, entry)
                for deps in waiting.values():
                    if job in deps:
                        deps.remove(job)
                submit_ready()
        except BaseException:  # interrupted: finished entries are written; stop the rest
            for ref in running:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished or its worker is gone
                    pass
            raise
