"""Collect every problem of a source, then raise one ``DatasetError`` that fits on a screen."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeops.errors import DatasetError

MAX_LISTED = 20  # problems listed in one message; the rest are counted ("... and N more")


@dataclass(frozen=True)
class Problem:
    where: str  # a file, a zip entry ("data/x.zip:cat/a.jpg") or a CSV line ("index.csv:7")
    what: str  # "what is wrong; how to fix"

    def line(self) -> str:
        return f"  {self.where}: {self.what}"


@dataclass
class Problems:
    items: list[Problem] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.items.append(Problem(where, what))

    def __bool__(self) -> bool:
        return bool(self.items)

    def error(self, dataset: str, source: str) -> DatasetError:
        return DatasetError(format_problems(dataset, source, self.items))

    def raise_if_any(self, dataset: str, source: str) -> None:
        if self.items:
            raise self.error(dataset, source)


def format_problems(dataset: str, source: str, items: list[Problem]) -> str:
    n = len(items)
    head = f"datasets.{dataset}: {source}: {n} problem{'s' if n != 1 else ''}"
    lines = [head, *(p.line() for p in items[:MAX_LISTED])]
    if n > MAX_LISTED:
        lines.append(f"  ... and {n - MAX_LISTED} more")
    return "\n".join(lines)
