"""keep_freed_memory(): glibc stops handing large tensors fresh pages on every op."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import torch
    from ascbench.allocator import keep_freed_memory
    applied = keep_freed_memory() if sys.argv[1] == "tuned" else False
    x = torch.ones(32, 1024, 1024)  # 128 MB, far above glibc's mmap threshold
    def work():
        for _ in range(20):
            y = x * 2.0  # a fresh 128 MB result every time
            del y
    work()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    work()
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _faults(mode: str, env: dict | None = None) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_freed_tensor_memory_is_reused_instead_of_refaulted():
    plain_applied, plain = _faults("plain")
    tuned_applied, tuned = _faults("tuned")
    assert (plain_applied, tuned_applied) == ("False", "True")
    # glibc defaults: every 128 MB result is a new mapping, ~32k page faults each; kept
    # memory faults at most a couple of times (heap growth), not once per result
    assert plain > 20 * 30_000
    assert tuned < plain / 5


def test_can_be_switched_off(monkeypatch):
    import os

    env = {**os.environ, "ASCBENCH_KEEP_FREED_MEMORY": "0"}
    applied, _ = _faults("tuned", env)
    assert applied == "False"
