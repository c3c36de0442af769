"""Fast: class weights for imbalanced labels (no backbone): when `auto` weighs, and what the
weighing does to a head trained on imbalanced features."""

from __future__ import annotations

import time

import numpy as np
import pytest

from edgeops.backends.local.ml.head import logits, train_head
from edgeops.backends.local.ml.hparams import HParams
from edgeops.backends.local.ml.weights import IMBALANCE, class_weights

LABELS = ("a", "b", "c")


def _rows(counts: list[int]) -> np.ndarray:
    return np.concatenate([np.tile(np.eye(3)[i], (n, 1)) for i, n in enumerate(counts)])


def test_auto_weighs_only_an_imbalanced_single_label_split() -> None:
    balanced = class_weights("auto", _rows([10, 9, 8]), LABELS, multi_label=False)
    assert balanced.weights is None and balanced.imbalance == 1.25
    assert "balanced" in balanced.reason

    skewed = class_weights("auto", _rows([40, 10, 5]), LABELS, multi_label=False)
    assert skewed.imbalance == 8.0 >= IMBALANCE
    assert skewed.weights is not None
    w = np.array(skewed.weights)
    # every label carries the same total weight, and the rows' mean weight is 1
    assert np.allclose(w * [40, 10, 5], 55 / 3, rtol=1e-3)
    assert skewed.per_label == dict(zip(LABELS, skewed.weights, strict=True))
    assert skewed.to_dict("auto")["applied"] is True


def test_none_and_multi_label_never_weigh() -> None:
    assert class_weights("none", _rows([40, 10, 5]), LABELS, multi_label=False).weights is None
    multi = class_weights("auto", _rows([40, 10, 5]), LABELS, multi_label=True)
    assert multi.weights is None and "threshold" in multi.reason


def _imbalanced(rng: np.random.Generator, counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    centers = np.array([[0.0, 0.0], [1.2, 0.0], [0.0, 1.2]])
    x = np.concatenate([rng.normal(centers[i], 0.7, size=(n, 2)) for i, n in enumerate(counts)])
    return x.astype(np.float32), _rows(counts).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_weighing_raises_the_rare_labels_recall(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = _imbalanced(rng, [400, 40, 20])
    x_test, y_test = _imbalanced(rng, [300, 300, 300])
    weighing = class_weights("auto", y, LABELS, multi_label=False)

    def recall_of_rare(hp: HParams) -> float:
        head = train_head(
            x,
            y,
            None,
            None,
            multi_label=False,
            seed=seed,
            label_smoothing=0.0,
            early_stopping=False,
            deadline=time.monotonic() + 600,
            max_epochs=60,
            hp=hp,
        )
        pred = logits(head.weight, head.bias, x_test).argmax(1)
        truth = y_test.argmax(1)
        return float(np.mean([(pred[truth == k] == k).mean() for k in (1, 2)]))

    plain = recall_of_rare(HParams(learning_rate=0.05, dropout=0.0))
    weighed = recall_of_rare(
        HParams(learning_rate=0.05, dropout=0.0, class_weight=weighing.weights)
    )
    assert weighed > plain + 0.1, (plain, weighed)


@pytest.mark.parametrize(
    ("multi_label", "weighted"), [(False, False), (False, True), (True, False)]
)
def test_numpy_loss_and_gradient_are_torchs(multi_label: bool, weighted: bool) -> None:
    """The head trains in numpy; fine-tuning uses torch's ``weighted_loss``: same loss, and
    the numpy gradient is torch's autograd one."""
    import torch

    from edgeops.backends.local.ml.head import _loss_and_grad, weighted_loss

    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, (16, 4)).astype(np.float32)
    if multi_label:
        y = (rng.random((16, 4)) < 0.4).astype(np.float32) * 0.9 + 0.05
    else:
        y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 16)] * 0.9 + 0.025
    cw = (0.5, 1.0, 2.0, 4.0) if weighted else None
    loss, grad = _loss_and_grad(z, y, multi_label, None if cw is None else np.array(cw, np.float32))
    zt = torch.tensor(z, requires_grad=True)
    want = weighted_loss(torch, multi_label, cw)(zt, torch.tensor(y))
    want.backward()
    assert loss == pytest.approx(float(want), rel=1e-5)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_numpy_adam_is_torchs() -> None:
    import torch

    from edgeops.backends.local.ml.head import _Adam

    rng = np.random.default_rng(2)
    w = rng.normal(size=(3, 5)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    tw, tb = torch.tensor(w.copy(), requires_grad=True), torch.tensor(b.copy(), requires_grad=True)
    ours = _Adam((w, b), lr=5e-3, weight_decay=1e-2)
    theirs = torch.optim.Adam([tw, tb], lr=5e-3, weight_decay=1e-2)
    for _ in range(20):
        gw = rng.normal(size=w.shape).astype(np.float32)
        gb = rng.normal(size=b.shape).astype(np.float32)
        ours.step((gw, gb))
        tw.grad, tb.grad = torch.tensor(gw), torch.tensor(gb)
        theirs.step()
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b, tb.detach().numpy(), rtol=1e-5, atol=1e-6)
