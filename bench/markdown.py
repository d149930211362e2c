"""Formatting for the report: numbers, Markdown tables, article counts in words.

One place for how a value is shown, so every section of ``RESULTS.md`` rounds and aligns the
same way (``–`` for a value that was not measured).
"""

from __future__ import annotations

import math


def fmt(value, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        if abs(value) >= 1000:
            return f"{value:,.0f}{unit}"
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def table(header: list[str], rows: list[list], align: str = "") -> str:
    """A Markdown table; ``align`` has one letter per column (l or r), default: the first
    column left, the others right."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if a == "l" else "--:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def signed(value: float) -> str:
    return f"{'+' if value >= 0 else '−'}{abs(value):,.1f}"


def delta(value: float | None, digits: int = 3) -> str:
    """A difference with its sign (``+0.021``, ``−0.004``)."""
    if value is None:
        return "–"
    return f"{'+' if value >= 0 else '−'}{abs(value):.{digits}f}"


def articles(value: float | None) -> str:
    """An article count in words, for limits of a model."""
    if value is None:
        return "–"
    if math.isinf(value) or value > 1e8:
        return "no limit within the model (no measurable growth)"
    if value <= 0:
        return "already exceeded at 1x"
    if value >= 1e6:
        return f"≈{value / 1e6:.1f} M articles"
    if value >= 1e4:
        return f"≈{value / 1e3:.0f} k articles"
    return f"≈{value:,.0f} articles"


def verdict(met: bool | None) -> str:
    return "–" if met is None else ("**met**" if met else "**not met**")
