"""Start-up time of the command line: ``python -m ascbench --help`` against ``python -c pass``.

Both run as fresh interpreters, one after the other in every round (interleaved, so that a
busy machine slows both alike); the summary gives the median time of each and their ratio.
The target is ``--help`` in at most 0.3 s on an idle machine; the test asserts the ratio,
which a loaded machine changes less than the absolute times (a command line that imports
torch, numpy and pydantic takes 20-30 times as long as ``python -c pass``).

Run::

    pytest benchmarks/test_cli_startup.py --benchmark-only -s
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

#: ``--help`` must start in at most this many times the time of ``python -c pass``.
MAX_RATIO = 4.0
#: The absolute target on an idle machine (reported, not asserted: the machine may be busy).
TARGET_SECONDS = 0.3
ROUNDS = 15

HELP = [sys.executable, "-m", "ascbench", "--help"]
PASS = [sys.executable, "-c", "pass"]


def _seconds(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def test_help_starts_fast(benchmark) -> None:
    help_times: list[float] = []
    pass_times: list[float] = []

    def pair() -> None:
        help_times.append(_seconds(HELP))
        pass_times.append(_seconds(PASS))

    benchmark.group = "command-line start-up"
    benchmark.pedantic(pair, rounds=ROUNDS, iterations=1, warmup_rounds=2)
    # the warm-up rounds append too: keep the measured rounds only
    help_s = statistics.median(help_times[-ROUNDS:])
    pass_s = statistics.median(pass_times[-ROUNDS:])
    ratio = help_s / pass_s
    benchmark.extra_info.update(
        {"help_s": round(help_s, 4), "python_pass_s": round(pass_s, 4), "ratio": round(ratio, 2)}
    )
    print(
        f"\nascbench --help: {help_s * 1e3:.0f} ms, python -c pass: {pass_s * 1e3:.0f} ms, "
        f"ratio {ratio:.2f} (median of {ROUNDS} interleaved rounds; target <= "
        f"{TARGET_SECONDS} s on an idle machine)"
    )
    assert ratio <= MAX_RATIO, f"--help takes {ratio:.1f}x python -c pass (at most {MAX_RATIO})"
