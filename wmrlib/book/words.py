"""Small English helpers for the pages' sentences."""
from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """Return ``n`` with the noun in the right number, e.g. ``1 epoch``, ``5 epochs``, ``2 families``."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
