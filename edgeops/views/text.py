"""What the views' text forms share: a colourless console that renders into a string, and how
numbers and sizes read in a table."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console


def text_console(width: int) -> tuple[Console, io.StringIO]:
    """A console for rendering tables into text (no colour, no highlighting) and its buffer."""
    buf = io.StringIO()
    return Console(file=buf, width=width, color_system=None, highlight=False), buf


def num(x: Any) -> str:
    """A metric in a table: three decimals, ``-`` when there is none."""
    return "-" if x is None else f"{float(x):.3f}"


def size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB"
