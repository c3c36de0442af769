"""Wilson, exact McNemar and the paired bootstrap on tables small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgeops.evaluation import metrics
from edgeops.evaluation import stats as S
from edgeops.evaluation.intervals import (
    Interval,
    intervals_from_dict,
    mcnemar_exact,
    wilson,
    with_ci,
)

# ---- Wilson -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # z = 1.96: k=0 gives [0, z²/(n+z²)] = [0, 3.8416/13.8416]
        (0, 10, 0.0, 3.8416 / 13.8416),
        (10, 10, 1 - 3.8416 / 13.8416, 1.0),
        # 5/10: centre 0.5, half-width 1.96/1.38416 * sqrt(0.025 + 0.009604) = 0.26341
        (5, 10, 0.236590, 0.763410),
        # 1/4: centre 0.372475, half-width 0.326889 (the textbook 0.0456–0.6994)
        (1, 4, 0.045586, 0.699364),
    ],
)
def test_wilson_known_values(k: int, n: int, lo: float, hi: float) -> None:
    assert wilson(k, n) == pytest.approx((lo, hi), abs=1e-6)


def test_wilson_edges() -> None:
    assert wilson(0, 0) == (0.0, 1.0)  # nothing observed: anything goes
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0  # exact ends
    lo, hi = wilson(90, 100)
    assert lo < 0.9 < hi and hi - lo < wilson(9, 10)[1] - wilson(9, 10)[0]  # n narrows it
    with pytest.raises(ValueError):
        wilson(11, 10)


# ---- McNemar ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 5, 2 / 32),  # 0.0625: the smallest p five discordant pairs can give
        (5, 0, 2 / 32),
        (3, 3, 1.0),  # balanced: capped at 1
        (0, 0, 1.0),  # no discordant pair
        (1, 9, 2 * (1 + 10) / 1024),  # 2 * P(X <= 1), X ~ Bin(10, 1/2)
        (2, 3, 1.0),  # 2 * P(X <= 2), X ~ Bin(5, 1/2) = 2 * 16/32, capped
    ],
)
def test_mcnemar_exact(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=1e-12)


def test_stats_reexports_the_proportion_tools() -> None:
    assert S.wilson is wilson and S.mcnemar_exact is mcnemar_exact and S.Interval is Interval


# ---- the bootstrap ----------------------------------------------------------------------------

RNG = np.random.default_rng(7)
N, L = 60, 3
SCORES = RNG.random((N, L)).round(2)  # ties on purpose
SCORES /= SCORES.sum(1, keepdims=True)
TRUTH = np.zeros((N, L), dtype=bool)
TRUTH[np.arange(N), RNG.integers(0, L, N)] = True


def test_resample_counts_draw_n_images_per_resample_reproducibly() -> None:
    w = S.resample_counts(N, 100, seed=3)
    assert w.shape == (100, N) and (w.sum(1) == N).all() and (w >= 0).all()
    assert (w == S.resample_counts(N, 100, seed=3)).all()
    assert not (w == S.resample_counts(N, 100, seed=4)).all()


def test_bootstrap_is_seeded() -> None:
    ap = S.average_precision()
    a = S.bootstrap(ap, SCORES, TRUTH, resamples=300, seed=1)
    assert a == S.bootstrap(ap, SCORES, TRUTH, resamples=300, seed=1)
    assert a != S.bootstrap(ap, SCORES, TRUTH, resamples=300, seed=2)
    assert a.method == "bootstrap" and a.n == N and a.lo <= a.value <= a.hi


def test_a_difference_of_identical_scores_is_exactly_zero() -> None:
    for metric in (
        S.average_precision(),
        S.top1_accuracy(),
        S.log_loss(multi_label=False),
        S.precision_at(0.3),
        S.recall_at(0.3),
    ):
        d = S.bootstrap_difference(metric, SCORES, metric, SCORES, TRUTH, resamples=200)
        assert (d.value, d.lo, d.hi) == (0.0, 0.0, 0.0)


def test_a_known_shift_is_recovered_exactly_by_the_paired_bootstrap() -> None:
    # every true-label probability scaled by e^-0.1: each image's log loss rises by exactly 0.1,
    # so every resample's difference is 0.1 (a paired bootstrap), however the images vary
    shifted = np.where(TRUTH, SCORES * math.exp(-0.1), SCORES)
    ll = S.log_loss(multi_label=False)
    d = S.bootstrap_difference(ll, SCORES, ll, shifted, TRUTH, resamples=500)
    assert (d.value, d.lo, d.hi) == pytest.approx((0.1, 0.1, 0.1), abs=1e-9)
    # unpaired, the two intervals would overlap: the single-model interval is far wider
    one = S.bootstrap(ll, SCORES, TRUTH, resamples=500)
    assert one.hi - one.lo > 0.1


def test_all_wrong_to_all_right_is_a_top1_change_of_one() -> None:
    wrong = np.where(TRUTH, 0.1, 0.45)
    right = np.where(TRUTH, 0.8, 0.1)
    top1 = S.top1_accuracy()
    d = S.bootstrap_difference(top1, wrong, top1, right, TRUTH, resamples=100)
    assert (d.value, d.lo, d.hi) == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("column", [None, 0, 2])
def test_vectorised_average_precision_is_the_metric_on_each_resample(column: int | None) -> None:
    w = S.resample_counts(N, 40, seed=5)
    fast = S.average_precision(column=column)(SCORES, TRUTH, w)

    def plain(s: np.ndarray, y: np.ndarray) -> float:
        if column is not None:
            s, y = s[:, column], y[:, column]
        return metrics.average_precision(s, y)

    slow = S.per_resample(plain)(SCORES, TRUTH, w)
    assert fast == pytest.approx(slow, abs=1e-12)


def test_bootstrap_values_are_the_numbers_edgeops_prints() -> None:
    labels = ("a", "b", "c")
    truth = [(labels[j],) for j in TRUTH.argmax(1)]
    ev = metrics.evaluate_scores(SCORES, truth, labels, multi_label=False, resamples=0)
    one = np.ones((1, N), dtype=np.int64)
    assert S.average_precision()(SCORES, TRUTH, one)[0] == pytest.approx(ev.au_prc, abs=1e-6)
    assert S.top1_accuracy()(SCORES, TRUTH, one)[0] == pytest.approx(ev.top1_accuracy)
    assert S.log_loss(multi_label=False)(SCORES, TRUTH, one)[0] == pytest.approx(
        ev.log_loss, abs=1e-6
    )
    for t in (0.0, 0.25, 0.33, 0.5, 1.0):
        at = ev.overall.at(t)
        assert S.precision_at(t)(SCORES, TRUTH, one)[0] == pytest.approx(at["precision"], abs=1e-6)
        assert S.recall_at(t)(SCORES, TRUTH, one)[0] == pytest.approx(at["recall"], abs=1e-6)
    f1 = S.f1_curve(SCORES, TRUTH, one)[0]
    assert f1 == pytest.approx(ev.overall.f1, abs=1e-6)


def test_multi_label_log_loss_is_the_mean_binary_cross_entropy() -> None:
    s = np.array([[0.9, 0.2], [0.4, 0.7]])
    y = np.array([[True, False], [False, True]])
    one = np.ones((1, 2), dtype=np.int64)
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.7)) / 4
    assert S.log_loss(multi_label=True)(s, y, one)[0] == pytest.approx(expected)
    # an image drawn twice counts twice
    assert S.log_loss(multi_label=True)(s, y, np.array([[2, 0]]))[0] == pytest.approx(
        -(math.log(0.9) + math.log(0.8)) / 2
    )


# ---- intervals as people read them ------------------------------------------------------------


def test_interval_reads_and_round_trips() -> None:
    iv = Interval(0.94, 0.80, 0.99, 17, "wilson")
    assert iv.describe() == "95% CI 0.80–0.99, n=17"
    assert Interval(-0.02, -0.05, 0.01, 400, "bootstrap").describe(3, signed=True) == (
        "95% CI -0.050–+0.010, n=400"
    )
    assert Interval.from_dict(iv.to_dict()) == iv
    assert intervals_from_dict({"precision": iv.to_dict()}) == {"precision": iv}
    assert intervals_from_dict(None) == {}
    assert with_ci(0.94, iv) == "0.940 (95% CI 0.80–0.99, n=17)"
    assert with_ci(0.94, None) == "0.940 (95% CI n/a)"
    assert with_ci(None, None) == "-"
    assert iv.straddles(0.9) and iv.straddles(0.99) and not iv.straddles(0.80)
