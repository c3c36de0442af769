"""The output layer: the only place that writes to the terminal.

Results go to stdout; progress bars, notes, warnings and errors go to stderr, so
``edgeops plan --format json > plan.json`` stays clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Task:
    def __init__(self, progress: Progress | None, task_id: Any) -> None:
        self.progress = progress
        self.task_id = task_id

    def advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task_id, n)


class ConsoleReporter:
    """Progress bars on stderr when it is a terminal; plain start/finish lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.warnings: list[str] = []

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[_Task]:
        if self.quiet:
            yield _Task(None, None)
            return
        if not err.is_terminal:
            err.print(f"{escape(description)} ...")
            yield _Task(None, None)
            return
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task_id = progress.add_task(description, total=total)
            yield _Task(progress, task_id)
        err.print(f"[dim]{escape(description)}: done[/]")

    def info(self, message: str) -> None:
        if not self.quiet:
            err.print(escape(message))

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        err.print(f"[yellow]warning:[/] {escape(message)}")


def print_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def error(message: str) -> None:
    err.print(f"[bold red]Error:[/] {escape(message)}")


def note(message: str) -> None:
    err.print(escape(message))
