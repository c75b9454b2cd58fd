"""The driver of ``ascbench run``: plans the jobs, hands them to an executor, writes each entry.

:func:`run_jobs` plans the jobs (teachers before their students), skips finished ones with
``resume``, submits each job to the executor once the jobs it depends on are written
(:func:`ascbench.jobs.plan.dependencies`: its teacher, and the earlier job that trains the same
model the same way, whose weights it then reuses) and writes every entry atomically
(:class:`~ascbench.leaderboard.ResultStore`) as soon as its future is done. An interrupted run
keeps every finished entry, and ``--resume`` skips them; a job that produces no entry (its
worker died) becomes a ``failed`` entry with the reason.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ascbench.jobs.executors import Executor, InProcessExecutor
from ascbench.jobs.plan import Job, RunSettings, dependencies, load_run_dataset, plan
from ascbench.jobs.workers import run_job_here, run_job_in_worker, worker_setup
from ascbench.text import count

if TYPE_CHECKING:
    from ascbench.plugins import Registry
    from ascbench.systems import System


@dataclass
class RunSummary:
    """What a run did: entries written, skipped (resume) and failed."""

    written: list[Any] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    seconds: float = 0.0


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


def run_jobs(
    registry: Registry,
    settings: RunSettings,
    systems: Sequence[System],
    seeds: Sequence[int] = (0,),
    *,
    executor: Executor | None = None,
    plugins: Sequence[str] = (),
    on_entry: Callable[[Any], None] | None = None,
) -> RunSummary:
    """Run every job of ``systems`` x ``seeds`` with ``executor`` (default: in this process),
    writing each entry as soon as it is finished; with ``settings.resume`` finished entries are
    skipped. ``plugins`` are the ``--plugin`` modules a worker process must import."""
    from ascbench.leaderboard import ResultStore

    start = time.perf_counter()
    executor = executor or InProcessExecutor()
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
                f"{count(len(pending), 'job')} on the {executor.name} executor, each with "
                f"{count(threads, 'torch thread')}",
            )
            submit = job_submitter(executor, registry, job_settings, plugins)
            schedule(pending, registry, job_settings, driver, executor, submit)
        finally:
            executor.close()
    driver.summary.seconds = time.perf_counter() - start
    return driver.summary


def job_submitter(
    executor: Executor, registry: Registry, settings: RunSettings, plugins: Sequence[str]
) -> Callable[[Job], Future]:
    """How a job is handed to ``executor``: in this process with the driver's registry and
    dataset, elsewhere as a worker job that rebuilds them."""
    if executor.in_process:
        dataset = load_run_dataset(settings)

        def submit_here(job: Job) -> Future:
            return executor.submit(
                f"{job.system} seed {job.seed}", run_job_here, job, registry, settings, dataset
            )

        return submit_here
    setup = worker_setup(plugins)

    def submit_to_worker(job: Job) -> Future:
        name = f"{job.system} seed {job.seed}"
        return executor.submit(name, run_job_in_worker, job, settings, setup)

    return submit_to_worker


def schedule(
    jobs: Sequence[Job],
    registry: Registry,
    settings: RunSettings,
    driver: Driver,
    executor: Executor,
    submit: Callable[[Job], Future],
) -> None:
    """Submit each job once its dependencies are delivered, in plan order, at most
    ``executor.limit`` at a time, and deliver every entry as its future completes."""
    from ascbench.leaderboard import utc_now

    waiting = dependencies(jobs, registry)
    started: dict[Job, Any] = {}
    running: dict[Future, Job] = {}
    retried: set[Job] = set()

    def submit_ready() -> None:
        for job in [j for j, deps in waiting.items() if not deps]:
            if executor.limit is not None and len(running) >= executor.limit:
                return
            del waiting[job]
            started.setdefault(job, utc_now())
            driver.say(job, executor.started_message)
            running[submit(job)] = job

    submit_ready()
    try:
        while running:
            done, _ = wait(list(running), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                entry = finished_entry(
                    future, job, registry, settings, driver, executor, started, retried
                )
                if entry is None:  # tried once more: first in line again
                    retried.add(job)
                    waiting = {job: [], **waiting}
                    continue
                driver.deliver(job, entry)
                for deps in waiting.values():
                    if job in deps:
                        deps.remove(job)
            submit_ready()
    except BaseException:  # interrupted: finished entries are written; stop the rest
        executor.cancel(list(running))
        raise


def finished_entry(future, job, registry, settings, driver, executor, started, retried=()):
    """The entry of a done future: the job's own, or a ``failed`` one for a job that produced
    none; None when the executor tries the job once more."""
    from ascbench.jobs.job import job_entry
    from ascbench.leaderboard import parse_entry

    try:
        result = future.result()
        if isinstance(result, str):  # from a worker: JSON, validated here
            result = parse_entry(json.loads(result), f"worker of {driver.labels[job]}")
        return result
    except Exception as exc:  # raised outside run_job, or the worker died
        if job not in retried and executor.retry(exc):
            driver.say(job, f"{executor.failure(exc)}; trying once more")
            return None
        return job_entry(
            job, registry, settings, started=started[job], error=executor.failure(exc),
            torch_threads=settings.threads,
        )  # fmt: skip
