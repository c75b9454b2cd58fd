"""Job functions, as the executors run them: in this process, or in a worker process or Ray
task that rebuilds what the driver had (plugin registry, dataset, environment).

Both run the job under the run's torch thread count; :func:`run_job_in_worker` returns the
entry as JSON (validated and written by the driver), :func:`run_job_here` the entry itself.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ascbench.jobs.plan import Job, RunError, RunSettings, load_run_dataset

if TYPE_CHECKING:
    from ascbench.plugins import Registry


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


def run_job_here(job: Job, registry: Registry, settings: RunSettings, dataset) -> Any:
    """One job in this process, with the driver's registry and dataset."""
    from ascbench.jobs import job as job_module  # looked up at call time: tests wrap run_job

    with torch_threads(settings.threads):
        return job_module.run_job(job, registry, settings, dataset)


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


def run_job_in_worker(job: Job, settings: RunSettings, setup: WorkerSetup) -> str:
    """One job in a worker process (a local pool process or a Ray task): rebuild the registry,
    run the job with the driver's thread count, return the entry as JSON (validated and written
    by the driver)."""
    import socket

    from ascbench.jobs import job as job_module
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
        key = ("dataset", settings.data, settings.ruleset.clip_seconds, settings.train_split,
               settings.skip_missing, setup.environ)
        dataset = _WORKER_STATE.get(key)
        if dataset is None:
            dataset = _WORKER_STATE[key] = load_run_dataset(settings)
        with torch_threads(settings.threads):
            return job_module.run_job(job, registry, settings, dataset).to_json()
