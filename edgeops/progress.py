"""How library code reports progress and notes without writing to the terminal itself.

Only the output layer (``edgeops.ui``) writes to the terminal; library code receives a
``Reporter`` and calls it. ``NullReporter`` is the silent default used by tests and by code that
runs without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Task(Protocol):
    def advance(self, n: int = 1) -> None:  # mark n more units of work done
        ...


class Reporter(Protocol):
    # a progress bar: `with reporter.task("importing", total) as t: t.advance()`
    def task(self, description: str, total: int | None) -> AbstractContextManager[Task]: ...

    def info(self, message: str) -> None:  # a line for the user
        ...

    def warn(self, message: str) -> None:  # a warning for the user
        ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        pass


class NullReporter:
    """Reports nothing; collects warnings and infos so callers/tests can look at them."""

    def __init__(self) -> None:
        self.infos: list[str] = []
        self.warnings: list[str] = []

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Task]:
        yield _NullTask()

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
