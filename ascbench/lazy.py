"""Package attributes imported on first use (PEP 562), so that importing a package stays light.

A package that re-exports heavy names (pydantic models, torch code) sets
``__getattr__ = lazy_getattr(__name__, {"Name": "module.that.defines.it", ...})``: the defining
module is imported only when the name is first read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_getattr(
    package: str,
    origins: Mapping[str, str],
    cache: MutableMapping[str, Any] | None = None,
) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package``: ``name`` in ``origins`` is read from the
    module ``origins[name]`` names (and stored in ``cache``, the package's ``globals()``, when
    given, so that later reads skip this function); any other name raises AttributeError."""

    def __getattr__(name: str) -> Any:
        if name in origins:
            value = getattr(importlib.import_module(origins[name]), name)
            if cache is not None:
                cache[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
