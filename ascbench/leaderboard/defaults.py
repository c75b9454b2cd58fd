"""Default locations of the leaderboard's files, light to import (the command line reads them).

Nothing here imports pydantic, so ``ascbench leaderboard --help`` can show them.
"""

from __future__ import annotations

from pathlib import Path

#: Default results directory of ``ascbench run`` and ``ascbench leaderboard``.
DEFAULT_RESULTS = Path("results")

#: Where ``ascbench leaderboard publish`` writes by default (the repository's ``leaderboard/``).
DEFAULT_OUT = Path("leaderboard")
