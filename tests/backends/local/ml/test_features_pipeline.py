"""The decode worker of feature extraction, and how many views a train split gets."""

from __future__ import annotations

import threading

import pytest


def test_prefetched_keeps_order_and_runs_in_a_worker() -> None:
    from edgeops.backends.local.ml.features import prefetched

    main = threading.get_ident()
    seen: list[int] = []

    def square(i: int) -> int:
        seen.append(threading.get_ident())
        return i * i

    assert list(prefetched(square, range(20), depth=3)) == [i * i for i in range(20)]
    assert seen and all(t != main for t in seen)


def test_prefetched_stops_early_and_raises_the_worker_s_error() -> None:
    from edgeops.backends.local.ml.features import prefetched

    started: list[int] = []

    def fn(i: int) -> int:
        started.append(i)
        if i == 5:
            raise ValueError("image 5 is broken")
        return i

    got = []
    with pytest.raises(ValueError, match="image 5 is broken"):
        for x in prefetched(fn, range(100), depth=2):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]
    assert max(started) < 5 + 2 + 2  # at most depth (+ the one running) ahead, not all 100

    gen = prefetched(lambda i: i, range(1000), depth=2)
    assert next(gen) == 0
    gen.close()  # the consumer stops: nothing more is computed or left running


def test_views_stop_above_augment_max_train() -> None:
    from edgeops.backends.local.ml.hparams import HParams

    hp = HParams()
    limit = hp.augment_max_train
    assert hp.augments(True, limit) and hp.views_per_image(True, limit) == 2 + hp.crops
    assert not hp.augments(True, limit + 1) and hp.views_per_image(True, limit + 1) == 1
    assert not hp.augments(False, 10) and hp.views_per_image(False, 10) == 1


def test_estimate_counts_the_views_training_will_compute() -> None:
    from edgeops.backends.local.ml.estimate import CONVERT_S, estimate_seconds

    # one second per view and nothing else: the estimate is the conversion plus the views
    m = {"view_s": 1.0, "head_s": 0.0, "export_s": 0.0, "evaluate_s": 0.0}
    convert = CONVERT_S["latency"]
    # 100 images: 80 train with four views each, 20 others with one
    assert estimate_seconds(100, "latency", measured=m) == pytest.approx(convert + 80 * 4 + 20)
    # 1,000 images: 800 train (more than augment_max_train), one view each like the rest
    assert estimate_seconds(1000, "latency", measured=m) == pytest.approx(convert + 1000)
