"""Small helpers for the sentences ascbench prints."""

from __future__ import annotations

_IRREGULAR = {"entry": "entries", "this": "these", "passes": "passes"}


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``'1 entry'``, ``'2 entries'``, ``'1,234 systems'``: the number and the noun in the
    matching form (``plural`` when the regular ``-s`` / ``-y -> -ies`` does not fit)."""
    if n == 1:
        return f"1 {noun}"
    if plural is None:
        plural = _IRREGULAR.get(noun) or (
            noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
        )
    return f"{n:,} {plural}"
