"""Champion vs candidate: the served version and a new one scored on the same test images.

Both score tables come from the same images with the same preprocessing (the candidate's test
split); every difference is computed on the same resampled images (a paired bootstrap, seeded),
so the intervals of a change are as tight as the data allow. Top-1 accuracy also gets the exact
McNemar test, and the images whose top-1 answer the candidate fixes or breaks are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeops.evaluation.intervals import BOOTSTRAP_RESAMPLES, Interval

if TYPE_CHECKING:  # numpy only when compare() computes: the plan renders Comparisons without it
    import numpy as np

    from edgeops.config.model import GateSpec
    from edgeops.evaluation.stats import WeightedMetric
    from edgeops.evaluation.threshold import GateResult, GateRow

FORMAT_VERSION = 1
METRICS: tuple[str, ...] = ("top1_accuracy", "precision", "recall", "au_prc", "log_loss")
LOWER_IS_BETTER = frozenset({"log_loss"})
METRIC_NAMES = {  # as people read them
    "top1_accuracy": "top-1 accuracy",
    "precision": "precision at threshold",
    "recall": "recall at threshold",
    "au_prc": "AuPRC",
    "log_loss": "log loss",
}


@dataclass(frozen=True)
class MetricComparison:
    """One metric of both models, each with its 95% interval, and the paired change
    ``candidate - champion`` with its 95% interval (for log loss a negative change is better)."""

    metric: str
    champion: Interval
    candidate: Interval
    difference: Interval

    def improvement(self) -> Interval:
        """The change with "better" positive: ``difference``, negated for log loss."""
        d = self.difference
        if self.metric not in LOWER_IS_BETTER:
            return d
        return Interval(-d.value, -d.hi, -d.lo, d.n, d.method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "champion": self.champion.to_dict(),
            "candidate": self.candidate.to_dict(),
            "difference": self.difference.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricComparison:
        return cls(
            d["metric"],
            Interval.from_dict(d["champion"]),
            Interval.from_dict(d["candidate"]),
            Interval.from_dict(d["difference"]),
        )


@dataclass(frozen=True)
class LabelDelta:
    """One label: its test images, and AuPRC and recall (each model at its own threshold) of
    both models with the paired change."""

    label: str
    support: int
    au_prc: MetricComparison
    recall: MetricComparison

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "support": self.support,
            "au_prc": self.au_prc.to_dict(),
            "recall": self.recall.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelDelta:
        return cls(
            d["label"],
            int(d["support"]),
            MetricComparison.from_dict(d["au_prc"]),
            MetricComparison.from_dict(d["recall"]),
        )


@dataclass(frozen=True)
class Comparison:
    labels: tuple[str, ...]
    multi_label: bool
    n_examples: int
    champion_threshold: float
    candidate_threshold: float
    metrics: tuple[MetricComparison, ...]  # in the order of METRICS
    per_label: tuple[LabelDelta, ...]
    fixed: tuple[str, ...]  # image ids: champion's top-1 wrong, candidate's right
    broken: tuple[str, ...]  # image ids: champion's top-1 right, candidate's wrong
    mcnemar_p: float  # exact two-sided McNemar test on (len(broken), len(fixed))
    resamples: int
    seed: int

    def metric(self, name: str) -> MetricComparison:
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(f"no metric {name!r} in the comparison (have {', '.join(METRICS)})")

    def significantly_worse(self, metric: str, max_drop: float = 0.0) -> bool:
        """Whether the candidate is worse than the champion on ``metric`` by more than
        ``max_drop``, beyond the noise of the test split.

        With ``I`` the 95% paired-bootstrap interval of the improvement (``candidate -
        champion``; ``champion - candidate`` for log loss, so that positive is better): the
        candidate is significantly worse when ``I.hi < -max_drop``, i.e. even the most
        favourable change the data support is a drop larger than ``max_drop``.

        Why this and not "block unless the candidate is proven no worse" (``I.lo >=
        -max_drop``): the burden of proof is on the claim that blocks. On a small test split
        almost every interval is wide; a gate that blocked whenever the split cannot prove
        non-inferiority would block most retrains on honest data and teach people to switch it
        off. Inconclusive cases are not hidden: :meth:`inconclusive` flags them, and the gate
        row carries a warning naming the interval and n. ``max_drop`` is the drop a reviewer
        accepts as noise; with 0 the rule is a one-sided test at 2.5%."""
        return self.metric(metric).improvement().hi < -max_drop

    def inconclusive(self, metric: str, max_drop: float = 0.0) -> bool:
        """The interval of the improvement straddles ``-max_drop`` (:meth:`Interval.straddles`):
        the test split cannot tell whether the candidate dropped by more than ``max_drop``."""
        return self.metric(metric).improvement().straddles(-max_drop)

    @property
    def mcnemar_counts(self) -> tuple[int, int]:
        """(b, c) of the McNemar table: images broken, images fixed."""
        return len(self.broken), len(self.fixed)

    # ---- JSON round trip -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "multi_label": self.multi_label,
            "n_examples": self.n_examples,
            "champion_threshold": self.champion_threshold,
            "candidate_threshold": self.candidate_threshold,
            "metrics": [m.to_dict() for m in self.metrics],
            "per_label": [d.to_dict() for d in self.per_label],
            "fixed": list(self.fixed),
            "broken": list(self.broken),
            "mcnemar": {"b": len(self.broken), "c": len(self.fixed), "p": self.mcnemar_p},
            "bootstrap": {"resamples": self.resamples, "seed": self.seed},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Comparison:
        version = d.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(
                f"comparison format_version {version} is not supported "
                f"(this edgeops reads {FORMAT_VERSION})"
            )
        return cls(
            labels=tuple(d["labels"]),
            multi_label=bool(d["multi_label"]),
            n_examples=int(d["n_examples"]),
            champion_threshold=float(d["champion_threshold"]),
            candidate_threshold=float(d["candidate_threshold"]),
            metrics=tuple(MetricComparison.from_dict(m) for m in d["metrics"]),
            per_label=tuple(LabelDelta.from_dict(x) for x in d["per_label"]),
            fixed=tuple(d["fixed"]),
            broken=tuple(d["broken"]),
            mcnemar_p=float(d["mcnemar"]["p"]),
            resamples=int(d["bootstrap"]["resamples"]),
            seed=int(d["bootstrap"]["seed"]),
        )


def comparison_of(recorded: dict[str, Any] | None) -> Comparison | None:
    """A recorded comparison (``Comparison.to_dict()``, maybe with the champion's version beside
    it), or None when there is none or it is only a note (nothing was served, or the labels had
    changed since the served version)."""
    if not recorded or "metrics" not in recorded:
        return None
    return Comparison.from_dict(recorded)


def stored_comparison(metrics: dict[str, Any]) -> Comparison | None:
    """The comparison with the published version that a version's metrics carry (recorded when it
    was trained or adopted), or None."""
    return comparison_of(metrics.get("comparison"))


def compare(
    champion_scores: np.ndarray,
    candidate_scores: np.ndarray,
    true_labels: Sequence[Sequence[str]],
    labels: Sequence[str],
    *,
    multi_label: bool,
    champion_threshold: float,
    candidate_threshold: float,
    image_ids: Sequence[str],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Both models on the same test images (rows in the same order, columns in ``labels``'
    order), each at its own threshold. Scores follow :func:`evaluate_scores`: softmax
    probabilities for single-label models, per-label sigmoid ones for multi-label models;
    precision and recall are micro-averaged over (image, label) pairs, as
    ``Evaluation.overall.at(threshold)``."""
    import numpy as np

    from edgeops.evaluation import stats

    labels = tuple(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    a = np.asarray(champion_scores, dtype=np.float64)
    b = np.asarray(candidate_scores, dtype=np.float64)
    n = len(true_labels)
    for name, s in (("champion", a), ("candidate", b)):
        if s.shape != (n, len(labels)):
            raise ValueError(f"{name} scores have shape {s.shape}, expected {(n, len(labels))}")
    if len(image_ids) != n:
        raise ValueError(f"{len(image_ids)} image ids for {n} test images")
    if n == 0:
        raise ValueError("cannot compare on an empty test split")
    y = np.zeros((n, len(labels)), dtype=bool)
    for i, labs in enumerate(true_labels):
        for lab in labs:
            y[i, index[lab]] = True
    w = stats.resample_counts(n, resamples, seed)

    def paired(
        name: str, metric_a: WeightedMetric, metric_b: WeightedMetric, cols: slice
    ) -> MetricComparison:
        sa, sb, yy = a[:, cols], b[:, cols], y[:, cols]
        return MetricComparison(
            name,
            stats.bootstrap(metric_a, sa, yy, weights=w),
            stats.bootstrap(metric_b, sb, yy, weights=w),
            stats.bootstrap_difference(metric_a, sa, metric_b, sb, yy, weights=w),
        )

    every = slice(None)
    top1 = stats.top1_accuracy()
    ll = stats.log_loss(multi_label=multi_label)
    ap = stats.average_precision()
    metrics = (
        _with_wilson(paired("top1_accuracy", top1, top1, every), a, b, y),
        _with_counts(
            paired(
                "precision",
                stats.precision_at(champion_threshold),
                stats.precision_at(candidate_threshold),
                every,
            ),
            a,
            b,
            y,
            (champion_threshold, candidate_threshold),
        ),
        _with_counts(
            paired(
                "recall",
                stats.recall_at(champion_threshold),
                stats.recall_at(candidate_threshold),
                every,
            ),
            a,
            b,
            y,
            (champion_threshold, candidate_threshold),
        ),
        paired("au_prc", ap, ap, every),
        paired("log_loss", ll, ll, every),
    )
    per_label = tuple(
        LabelDelta(
            lab,
            int(y[:, j].sum()),
            paired("au_prc", ap, ap, slice(j, j + 1)),
            _with_counts(
                paired(
                    "recall",
                    stats.recall_at(champion_threshold),
                    stats.recall_at(candidate_threshold),
                    slice(j, j + 1),
                ),
                a[:, j : j + 1],
                b[:, j : j + 1],
                y[:, j : j + 1],
                (champion_threshold, candidate_threshold),
            ),
        )
        for j, lab in enumerate(labels)
    )
    right_a = stats.top1_correct(a, y)
    right_b = stats.top1_correct(b, y)
    ids = list(image_ids)
    fixed = tuple(ids[i] for i in np.nonzero(~right_a & right_b)[0])
    broken = tuple(ids[i] for i in np.nonzero(right_a & ~right_b)[0])
    return Comparison(
        labels=labels,
        multi_label=multi_label,
        n_examples=n,
        champion_threshold=float(champion_threshold),
        candidate_threshold=float(candidate_threshold),
        metrics=metrics,
        per_label=per_label,
        fixed=fixed,
        broken=broken,
        mcnemar_p=stats.mcnemar_exact(len(broken), len(fixed)),
        resamples=resamples,
        seed=seed,
    )


def _with_wilson(
    m: MetricComparison, a: np.ndarray, b: np.ndarray, y: np.ndarray
) -> MetricComparison:
    """Top-1 accuracy of each model as a proportion: its Wilson interval over the images."""
    from edgeops.evaluation import stats

    n = len(y)
    ka, kb = (int(stats.top1_correct(s, y).sum()) for s in (a, b))
    return MetricComparison(
        m.metric,
        stats.wilson_interval(ka, n, m.champion.value),
        stats.wilson_interval(kb, n, m.candidate.value),
        m.difference,
    )


def _with_counts(
    m: MetricComparison,
    a: np.ndarray,
    b: np.ndarray,
    y: np.ndarray,
    thresholds: tuple[float, float],
) -> MetricComparison:
    """Precision or recall of each model at its threshold: a Wilson interval on its counts
    (predicted pairs for precision, true pairs for recall)."""
    from edgeops.evaluation import stats

    intervals = []
    for s, t, value in (
        (a, thresholds[0], m.champion.value),
        (b, thresholds[1], m.candidate.value),
    ):
        pred = stats.predicted(s, t)
        n = int(pred.sum()) if m.metric == "precision" else int(y.sum())
        intervals.append(stats.wilson_interval(int((pred & y).sum()), n, value))
    return MetricComparison(m.metric, intervals[0], intervals[1], m.difference)


# ---- the gate against the published version --------------------------------------------------


def apply_vs_published(comparison: Comparison, gate: GateSpec) -> GateRow | None:
    """The gate row of ``gate.vs_published`` (None when the gate has none): missed when the
    candidate is :meth:`Comparison.significantly_worse` than the published version.

    The row reads like every gate row, ok when ``value >= bar``: ``value`` is the upper end of
    the 95% interval of the improvement (the most favourable change the data support; for log
    loss a fall of the loss is an improvement), ``bar`` is ``-max_drop``. ``interval`` is the
    change itself, candidate - champion, with its interval and n."""
    from edgeops.evaluation.threshold import GateRow

    spec = gate.vs_published
    if spec is None:
        return None
    m = comparison.metric(spec.metric)
    return GateRow(
        metric=f"{spec.metric} vs published",
        value=m.improvement().hi,
        bar=-spec.max_drop,
        ok=not comparison.significantly_worse(spec.metric, spec.max_drop),
        interval=m.difference,
        kind="vs_published",
    )


def vs_published_warnings(comparison: Comparison, gate: GateSpec) -> tuple[str, ...]:
    """A warning when the test split cannot tell whether the candidate got worse by more than
    ``max_drop`` (:meth:`Comparison.inconclusive`)."""
    spec = gate.vs_published
    if spec is None or not comparison.inconclusive(spec.metric, spec.max_drop):
        return ()
    d = comparison.metric(spec.metric).difference
    return (
        f"test split too small to tell whether {spec.metric} got worse by more than "
        f"{spec.max_drop:g} against the published version: change {d.value:+.3f}, "
        f"{d.describe(3, signed=True)}",
    )


def with_vs_published(result: GateResult, comparison: Comparison, gate: GateSpec) -> GateResult:
    """``result`` (a version's gate at its threshold) with the ``vs_published`` row and its
    warning added: passed only if it passed and the candidate is not significantly worse."""
    from edgeops.evaluation.threshold import GateResult

    row = apply_vs_published(comparison, gate)
    if row is None:
        return result
    return GateResult(
        passed=result.passed and row.ok,
        threshold=result.threshold,
        rows=(*result.rows, row),
        warnings=(*result.warnings, *vs_published_warnings(comparison, gate)),
    )


# ---- as people read it ------------------------------------------------------------------------


def _both(m: MetricComparison) -> str:
    """``0.912 (0.88–0.94, n=480) → 0.931 (0.91–0.95, n=480)``"""
    a, b = m.champion, m.candidate
    return (
        f"{a.value:.3f} ({a.lo:.2f}–{a.hi:.2f}, n={a.n}) → "
        f"{b.value:.3f} ({b.lo:.2f}–{b.hi:.2f}, n={b.n})"
    )


def _change(d: Interval) -> str:
    """``+0.019 (95% CI -0.002–+0.040)``"""
    return f"{d.value:+.3f} (95% CI {d.lo:+.3f}–{d.hi:+.3f})"


def comparison_lines(c: Comparison) -> list[str]:
    """The comparison as plain text lines (for the text plan and ``edgeops eval``): each metric
    as published → this version with both intervals and the paired change, McNemar, then each
    label's AuPRC and recall change."""
    b, fixed = c.mcnemar_counts
    width = max(len(n) for n in METRIC_NAMES.values())
    lines = [
        f"against the published version on {c.n_examples} test images (published → this "
        f"version; paired bootstrap, {c.resamples} resamples, seed {c.seed}):"
    ]
    for m in c.metrics:
        lines.append(
            f"  {METRIC_NAMES[m.metric].ljust(width)}  {_both(m)}  change {_change(m.difference)}"
        )
    lines.append(
        f"  top-1: {fixed} image(s) fixed, {b} broken; exact McNemar p = {c.mcnemar_p:.3g}"
    )
    for d in c.per_label:
        lines.append(
            f"  label {d.label} ({d.support} test images): AuPRC {_change(d.au_prc.difference)}, "
            f"recall {_change(d.recall.difference)}"
        )
    return lines


def comparison_markdown(c: Comparison) -> list[str]:
    """The comparison as markdown lines (for the pull-request comment): one table of metrics,
    the McNemar line, and the labels whose change is significant either way."""
    b, fixed = c.mcnemar_counts
    out = [
        "| metric | published | this version | change (95% CI) |",
        "|---|---:|---:|---:|",
    ]
    for m in c.metrics:
        a, n = m.champion, m.candidate
        out.append(
            f"| {METRIC_NAMES[m.metric]} | {a.value:.3f} ({a.lo:.2f}–{a.hi:.2f}, n={a.n}) "
            f"| {n.value:.3f} ({n.lo:.2f}–{n.hi:.2f}, n={n.n}) | {_change(m.difference)} |"
        )
    out += [
        "",
        f"Same {c.n_examples} test images; top-1: {fixed} fixed, {b} broken, exact McNemar "
        f"p = {c.mcnemar_p:.3g}.",
    ]
    moved = [
        f"{d.label} AuPRC {_change(d.au_prc.difference)}"
        for d in c.per_label
        if d.au_prc.difference.lo > 0 or d.au_prc.difference.hi < 0
    ]
    if moved:
        out.append("Labels whose AuPRC changed beyond the noise: " + "; ".join(moved) + ".")
    return out
