"""Running jobs: one (system, seed) under a rule set, from audio to its leaderboard entry.

Layered one way, each module importing only those above it in this list:

* :mod:`~ascbench.jobs.plan`: jobs, settings, budget, the order jobs run in (no torch)
* :mod:`~ascbench.jobs.artifacts`: the results folder's layout (trained weights, teacher
  outputs, predictions, tracebacks)
* :mod:`~ascbench.jobs.stages`: the stages of one job (features, fit, compress, score, outcome)
* :mod:`~ascbench.jobs.job`: :func:`~ascbench.jobs.job.run_job`, the stages in order, and the
  job's entry
* :mod:`~ascbench.jobs.executors`: where jobs run (this process, worker processes, Ray); each
  takes a job function and returns futures
* :mod:`~ascbench.jobs.workers`: the job functions executors run (here, or in a worker that
  rebuilds the registry and dataset)
* :mod:`~ascbench.jobs.driver`: :func:`~ascbench.jobs.driver.run_jobs`, which plans, submits,
  and writes each entry as it arrives
"""
