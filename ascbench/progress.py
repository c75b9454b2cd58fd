"""Progress bars: tqdm, drawn only on a terminal (``disable=None``) unless switched off.

Every progress bar of ascbench comes from :func:`bar`, so that each worker process of a parallel
local run (``ascbench run --jobs N``) draws its bars on a terminal line of its own
(:data:`LINE`) instead of over another worker's.
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

#: The terminal line (counted from the cursor) of this process's bars: None in the main process
#: (tqdm stacks nested bars itself), ``0 .. jobs-1`` in the workers of a parallel local run.
LINE: int | None = None


def bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on this process's terminal line."""
    if LINE is not None:
        kwargs.setdefault("position", LINE)
    return tqdm(iterable, **kwargs)
