"""What the views' text forms share: a colourless console that renders into a string, and how
numbers, intervals and sizes read in a table."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from edgeops.evaluation.intervals import Interval


def text_console(width: int) -> tuple[Console, io.StringIO]:
    """A console for rendering tables into text (no colour, no highlighting) and its buffer."""
    buf = io.StringIO()
    return Console(file=buf, width=width, color_system=None, highlight=False), buf


def num(x: Any) -> str:
    """A metric in a table: three decimals, ``-`` when there is none."""
    return "-" if x is None else f"{float(x):.3f}"


# under a table whose metric cells are :func:`num_ci`
INTERVALS_CAPTION = (
    "precision, recall, AuPRC: value, then its 95% interval and n (Wilson for precision and "
    "recall, bootstrap over test images for AuPRC; n/a: recorded before intervals)"
)


def ci(interval: Interval | None) -> str:
    """A 95% interval in a table: ``0.80–0.97``; ``n/a`` when none was recorded."""
    return "n/a" if interval is None else f"{interval.lo:.2f}–{interval.hi:.2f}"


def num_ci(x: Any, interval: Interval | None) -> str:
    """A metric with its interval and n below it, to keep table columns narrow: ``0.912`` /
    ``0.80–0.97`` / ``n=57``; ``-`` when there is no metric."""
    if x is None:
        return "-"
    return f"{float(x):.3f}\n{ci(interval)}" + (f"\nn={interval.n}" if interval else "")


def cross_validation_lines(versions: list[tuple[int, Any]]) -> list[str]:
    """Under a table of versions: one line per version that recorded k-fold cross-validated
    metrics (``versions``: (number, ``metrics["cross_validation"]`` or None))."""
    from edgeops.evaluation.crossval import summary_line

    return [f"v{n}: also {summary_line(cv)}" for n, cv in versions if cv]


def timing_lines(versions: list[tuple[int, float, Any]], address: str = "") -> list[str]:
    """Under a table of versions (or after a training of ``address``): the actual training time
    beside the plan's estimate, one line per version that recorded it (``versions``: (number,
    node hours, ``metrics["estimate"]``))."""
    from edgeops.plan.render import fmt_seconds

    prefix = f"{address} " if address else ""
    return [
        f"{prefix}v{n}: trained in {fmt_seconds(hours * 3600)}; the plan estimated "
        f"~{fmt_seconds(float(est.get('seconds', 0)))}"
        + (f" ({est['basis']})" if est.get("basis") else "")
        for n, hours, est in versions
        if isinstance(est, dict) and est.get("seconds")
    ]


def size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / (1 << 20):.1f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB"
