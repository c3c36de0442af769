"""Intervals of metrics: the type every metric's 95% interval travels in, the proportion
intervals and the exact paired test that need no numpy, and how an interval reads.

Numpy-free on purpose: the plan renderer and the read-only views (``edgeops show``, ``edgeops
models``) print recorded intervals without loading the numeric stack. The bootstrap is in
:mod:`edgeops.evaluation.stats`.

- :func:`wilson`: the Wilson score interval of a proportion ``k / n`` (precision = TP / (TP +
  FP), recall = TP / positives, top-1 accuracy = right / images). Unlike the normal
  approximation it stays inside [0, 1] and is sensible at k = 0, at k = n and for small n.
  Micro precision and recall count (image, label) pairs as the trials; pairs of one image are
  not independent when a threshold below 0.5 predicts several labels of a single-label image,
  which the bootstrap intervals (over images) do not assume.
- :func:`mcnemar_exact`: the exact two-sided McNemar test of two classifiers on the same images,
  a binomial test on the discordant pairs only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Z95 = 1.96
BOOTSTRAP_RESAMPLES = 2000  # resamples of the test images behind every bootstrap interval


@dataclass(frozen=True)
class Interval:
    """A metric's value on the test split with its 95% interval and the n behind it.

    ``n`` is the count the interval rests on: the denominator of a proportion (predicted pairs
    for precision, positives for recall, images for top-1 accuracy) or the number of test images
    resampled by the bootstrap. ``method`` is ``"wilson"`` or ``"bootstrap"``.
    """

    value: float
    lo: float
    hi: float
    n: int
    method: str

    def straddles(self, bar: float) -> bool:
        """``lo < bar <= hi``: the data support values below ``bar`` and values at or above it,
        so they cannot tell which side of the bar the metric is on. (A bar at ``lo`` is
        supported: nothing plausible is below it.)"""
        return self.lo < bar <= self.hi

    def describe(self, digits: int = 2, *, signed: bool = False) -> str:
        """``95% CI 0.80–0.99, n=17`` (``signed``: ``+0.01``/``-0.03``, for differences)."""
        f = f"{{:{'+' if signed else ''}.{digits}f}}"
        return f"95% CI {f.format(self.lo)}–{f.format(self.hi)}, n={self.n}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lo": self.lo,
            "hi": self.hi,
            "n": self.n,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interval:
        return cls(float(d["value"]), float(d["lo"]), float(d["hi"]), int(d["n"]), d["method"])


# ---- proportions ------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= k <= n:
        raise ValueError(f"wilson: {k} successes out of {n}")
    p = k / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact ends at k = 0 and k = n (the formula gives them up to rounding)
    lo = 0.0 if k == 0 else max(0.0, center - half)
    hi = 1.0 if k == n else min(1.0, center + half)
    return lo, hi


def wilson_interval(k: int, n: int, value: float | None = None) -> Interval:
    """:func:`wilson` as an :class:`Interval` (``value`` defaults to ``k / n``; 1.0 when n is 0,
    the convention of precision with nothing predicted and recall with nothing to find)."""
    lo, hi = wilson(k, n)
    v = value if value is not None else (k / n if n else 1.0)
    return Interval(float(v), lo, hi, int(n), "wilson")


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: under "both models are equally often right", each of
    the ``b + c`` discordant images is equally likely to favour either, so ``min(b, c)`` is
    Binomial(b + c, 1/2); p = 2 P(X <= min(b, c)), capped at 1 (1.0 when there is no
    discordant pair). b=0, c=5 gives 2/32 = 0.0625."""
    if b < 0 or c < 0:
        raise ValueError(f"mcnemar_exact: negative counts {b}, {c}")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def intervals_from_dict(d: Mapping[str, Any] | None) -> dict[str, Interval]:
    """Intervals recorded as ``{metric: Interval.to_dict()}`` (a version's summary keeps them
    under ``"intervals"``); empty for records written before intervals existed."""
    return {name: Interval.from_dict(v) for name, v in (d or {}).items()}


def with_ci(value: float | None, interval: Interval | None, digits: int = 3) -> str:
    """A metric as people read it: ``0.912 (95% CI 0.80–0.97, n=57)``; ``0.912 (95% CI n/a)``
    when there is no interval (recorded before intervals existed); ``-`` with no value."""
    if value is None:
        return "-"
    text = f"{float(value):.{digits}f}"
    return f"{text} ({interval.describe() if interval is not None else '95% CI n/a'})"


def describe_summary(summary: Mapping[str, Any]) -> str:
    """A version's recorded precision, recall and AuPRC with their intervals, for one line of
    output: ``precision 0.912 (95% CI 0.80–0.97, n=57), recall 0.874 (95% CI n/a), AuPRC
    0.951 (95% CI 0.89–0.99, n=80)`` (``-`` for a metric not recorded)."""
    intervals = intervals_from_dict(summary.get("intervals"))
    return ", ".join(
        f"{name} {with_ci(summary.get(key), intervals.get(key))}"
        for key, name in (("precision", "precision"), ("recall", "recall"), ("au_prc", "AuPRC"))
    )


# the gate's bars on single metrics: (metric, bar name in the gate spec)
BARS: tuple[tuple[str, str], ...] = (
    ("precision", "min_precision"),
    ("recall", "min_recall"),
    ("au_prc", "min_au_prc"),
)


def recorded_bars(gate_spec: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The bars of a version's recorded ``gate_spec`` (which may also name ``evaluate_on``)."""
    return {name: (gate_spec or {}).get(name) for _, name in BARS}


def bar_warnings(
    intervals: Mapping[str, Interval],
    bars: Mapping[str, float | None],
    evaluated_on: str = "test_split",
) -> tuple[str, ...]:
    """One warning per bar (``bars``: ``min_precision`` etc., as a gate spec has them) inside
    its metric's 95% interval (:meth:`Interval.straddles`: the test split is too small to say
    which side of the bar the model is on), e.g. ``test split too small to support
    min_precision 0.9: precision 0.94, 95% CI 0.80–0.99, n=17``, or for a missed bar ``the miss
    of min_recall 0.8 may be noise: ...``. Bars whose metric has no interval are skipped.
    ``evaluated_on``: ``"cross_validation"`` when the intervals are a k-fold
    cross-validation's (the warning names it instead of the test split)."""
    split = "test split" if evaluated_on == "test_split" else "k-fold cross-validation"
    out = []
    for metric, bar_name in BARS:
        bar = bars.get(bar_name)
        iv = intervals.get(metric)
        if bar is None or iv is None or not iv.straddles(float(bar)):
            continue
        what = f"{metric} {iv.value:.2f}, {iv.describe()}"
        if iv.value >= bar:
            out.append(f"{split} too small to support {bar_name} {bar:g}: {what}")
        else:
            on = "" if evaluated_on == "test_split" else f" on the {split}"
            out.append(f"the miss of {bar_name} {bar:g}{on} may be noise: {what}")
    return tuple(out)
