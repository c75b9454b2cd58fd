"""ascbench: a plugin-based benchmarking harness for low-complexity acoustic scene classification.

Plugins implement the hooks in :mod:`ascbench.hookspecs` with :data:`hookimpl` and return
the component objects defined in :mod:`ascbench.components` and :mod:`ascbench.systems`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ascbench.hookspecs import hookimpl
from ascbench.lazy import lazy_getattr

if TYPE_CHECKING:
    from ascbench.components import (
        CompressorEntry,
        EvaluatorEntry,
        FrontendEntry,
        ModelEntry,
    )
    from ascbench.rules import RuleSet
    from ascbench.systems import System

__version__ = "0.1.0"

#: Imported on first use (``from ascbench import System``), so that importing ascbench (as
#: every pytest session does for the pytest plugin) does not load pydantic.
_LAZY = {
    "CompressorEntry": "ascbench.components",
    "EvaluatorEntry": "ascbench.components",
    "FrontendEntry": "ascbench.components",
    "ModelEntry": "ascbench.components",
    # the names of ascbench 0.1, for plugins written against them (same classes)
    "Compressor": "ascbench.components",
    "Evaluator": "ascbench.components",
    "Frontend": "ascbench.components",
    "Model": "ascbench.components",
    "RuleSet": "ascbench.rules",
    "System": "ascbench.systems",
}


__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = [
    "CompressorEntry",
    "EvaluatorEntry",
    "FrontendEntry",
    "ModelEntry",
    "RuleSet",
    "System",
    "__version__",
    "hookimpl",
]
