"""What the local trainer measured on this machine, per backbone and phase, for the next estimate.

After each training the trainer records, per backbone (one per ``optimize_for``), what its phases
cost here: ``view_s`` (backbone features: seconds per computed image view, decode included),
``head_s`` (head training and calibration: seconds per training row), ``export_s`` (the export,
seconds) and ``evaluate_s`` (the test evaluation, fixed costs included: seconds per test
image). The last :data:`KEEP` runs are kept in a small JSON file in the machine cache
(``<cache_dir>/trainer/throughput.json``, written atomically); estimates use the median of each.
Losing the file costs only the precision of the next estimate (reference figures are used).

Pure stdlib and cheap to import: ``edgeops plan`` reads it.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from edgeops.files import atomic_write
from edgeops.machine import cache_dir

KEEP = 5  # the last runs per backbone and phase that estimates use
PHASES = ("view_s", "head_s", "export_s", "evaluate_s")


def path() -> Path:
    return cache_dir() / "trainer" / "throughput.json"


@dataclass(frozen=True)
class Measured:
    """The medians of this machine's last runs for one backbone (empty: no earlier run)."""

    runs: int  # how many runs the medians come from (the most recorded for any phase)
    medians: dict[str, float]

    @property
    def basis(self) -> str:
        """How an estimate made from this was made, for people."""
        if not self.runs:
            return "no earlier run here: reference figures"
        runs = f"{self.runs} earlier run{'s' if self.runs != 1 else ''}"
        return f"estimated from {runs} on this machine"


def _load() -> dict[str, dict[str, list[float]]]:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def measured(optimize_for: str) -> Measured:
    """The medians of the runs recorded for ``optimize_for``'s backbone on this machine."""
    entry = _load().get(optimize_for)
    if not isinstance(entry, dict):
        return Measured(0, {})
    medians: dict[str, float] = {}
    runs = 0
    for phase in PHASES:
        values = entry.get(phase)
        if not isinstance(values, list):
            continue
        values = [float(v) for v in values if isinstance(v, (int, float)) and v >= 0]
        if values:
            medians[phase] = statistics.median(values[-KEEP:])
            runs = max(runs, min(len(values), KEEP))
    return Measured(runs, medians)


def record(optimize_for: str, figures: dict[str, float]) -> None:
    """Appends one run's figures (phases it did not measure left out); keeps the last KEEP.

    Best effort: a cache that cannot be written costs only the next estimate's precision."""
    data = _load()
    entry = data.get(optimize_for)
    if not isinstance(entry, dict):
        entry = {}
    for phase, value in figures.items():
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        old = entry.get(phase)
        values = old if isinstance(old, list) else []
        entry[phase] = [*values, round(float(value), 6)][-KEEP:]
    data[optimize_for] = entry
    with contextlib.suppress(OSError):
        atomic_write(path(), (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
