"""K-fold cross-validated metrics beside a small test split: when there are some, what they
are called, which evaluation a gate reads, and how a recorded one reads.

A test split of a few dozen images gives wide intervals. The local trainer then also reports
k-fold cross-validated metrics of the same head recipe on the cached backbone features of
train+validation (:mod:`edgeops.backends.local.ml.crossval`): an :class:`Evaluation` of
out-of-fold scores, kept as the test evaluation's ``cross_validation``. What it measures is the
classifier head on float features, not the exported int8 file, and every place that shows it
says so (:func:`describe`). Gates read the test split unless ``gate.evaluate_on`` says
``cross_validation`` (:func:`gated`).

Numpy-free: the plan renderer and the read-only views print recorded cross-validations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from edgeops.evaluation.intervals import intervals_from_dict, with_ci

if TYPE_CHECKING:
    from edgeops.config.model import GateSpec
    from edgeops.evaluation.metrics import Evaluation

MIN_TEST_IMAGES = 50  # a test split with fewer images also gets cross-validated metrics
FOLDS = 5
TEST_SPLIT = "test_split"
CROSS_VALIDATION = "cross_validation"
METHOD = "k-fold cross-validation"


def wanted(test_images: int, gate: GateSpec) -> bool:
    """Whether the local trainer cross-validates a version: a small test split, or a gate that
    reads cross-validation."""
    return test_images < MIN_TEST_IMAGES or gate.evaluate_on == CROSS_VALIDATION


def extra(k: int, splits: tuple[str, ...] = ("train", "validation")) -> dict[str, Any]:
    """What a cross-validation's :attr:`Evaluation.extra` says about it."""
    return {
        "method": METHOD,
        "k": k,
        "splits": list(splits),
        "model": "classifier head on float backbone features (not the int8 file)",
    }


def describe(k: int, n: int, splits: Any = ("train", "validation")) -> str:
    """``k-fold cross-validation of the head on float features, train+validation, k=5, n=123``"""
    return (
        f"{METHOD} of the head on float features, {'+'.join(splits)}, k={k}, n={n} "
        "(not the int8 file)"
    )


def describe_evaluation(cv: Evaluation) -> str:
    return describe(int(cv.extra.get("k", FOLDS)), cv.n_examples, cv.extra.get("splits", ()))


def record(cv: Evaluation, threshold: float) -> dict[str, Any]:
    """What a version records about its cross-validation (``metrics["cross_validation"]``):
    k, n, what it is, and its metrics at the version's threshold with their 95% intervals."""
    return {
        "label": describe_evaluation(cv),
        "k": int(cv.extra.get("k", FOLDS)),
        "n": cv.n_examples,
        "splits": list(cv.extra.get("splits", ())),
        **cv.summary_at(threshold),
    }


def gated(evaluation: Evaluation, gate: GateSpec) -> tuple[Evaluation, str, tuple[str, ...]]:
    """The evaluation the bars of ``gate`` read, its name (:data:`TEST_SPLIT` or
    :data:`CROSS_VALIDATION`) and a warning when the gate asks for a cross-validation the
    version does not have (then it reads the test split)."""
    if gate.evaluate_on != CROSS_VALIDATION:
        return evaluation, TEST_SPLIT, ()
    if evaluation.cross_validation is None:
        return (
            evaluation,
            TEST_SPLIT,
            (
                "gate.evaluate_on is cross_validation, but this version has no cross-validated "
                "metrics (the local trainer computes them for test splits under "
                f"{MIN_TEST_IMAGES} images, or when the gate asks at training); the gate read "
                "the test split",
            ),
        )
    return evaluation.cross_validation, CROSS_VALIDATION, ()


def gated_summary(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """A recorded version's metrics the gate read (``metrics["summary"]``, or
    ``metrics["cross_validation"]`` when its gate read that) and their name."""
    cv = metrics.get(CROSS_VALIDATION)
    if (metrics.get("gate") or {}).get("evaluated_on") == CROSS_VALIDATION and cv:
        return dict(cv), CROSS_VALIDATION
    return dict(metrics.get("summary") or {}), TEST_SPLIT


def summary_line(recorded: Mapping[str, Any] | None) -> str:
    """One line for a recorded cross-validation: its label, then precision, recall, AuPRC and
    top-1 accuracy with their intervals; empty when there is none."""
    if not recorded:
        return ""
    intervals = intervals_from_dict(recorded.get("intervals"))
    metrics = ", ".join(
        f"{name} {with_ci(recorded.get(key), intervals.get(key))}"
        for key, name in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("au_prc", "AuPRC"),
            ("top1_accuracy", "top-1"),
        )
    )
    label = recorded.get("label") or describe(recorded.get("k", FOLDS), recorded.get("n", 0))
    return f"{label}: {metrics}"
