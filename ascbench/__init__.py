"""ascbench: a plugin-based benchmarking harness for low-complexity acoustic scene classification.

Plugins implement the hooks in :mod:`ascbench.hookspecs` with :data:`hookimpl` and return
the component objects defined in :mod:`ascbench.components` and :mod:`ascbench.systems`.
"""

from ascbench.components import Compressor, Evaluator, Frontend, Model
from ascbench.hookspecs import hookimpl
from ascbench.rules import RuleSet
from ascbench.systems import System

__version__ = "0.1.0"

__all__ = [
    "Compressor",
    "Evaluator",
    "Frontend",
    "Model",
    "RuleSet",
    "System",
    "__version__",
    "hookimpl",
]
