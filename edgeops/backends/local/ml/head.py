"""The classifier head: a linear layer on frozen backbone features, trained in numpy.

Softmax + label-smoothed cross-entropy for single-label datasets, sigmoid + (smoothed) binary
cross-entropy for multi-label ones. Adam, mini-batches, dropout on the features. Early stopping
on validation loss (best weights restored) unless disabled; the budget's deadline stops training
wherever it is (after at least ``min_epochs``). Seeded: the same seed and data give the same
weights. Hyperparameters: :class:`~.hparams.HParams`.

numpy, not torch: the gradient of a linear layer is two small matrix products, and a step costs
~0.5 ms against torch's ~1.8 ms (autograd and dropout overhead on 32x1280 batches); nor does a
head-only retrain pay torch's import (~2 s). Fine-tuning (``finetune.py``) trains the head with
the backbone in torch, with :func:`weighted_loss`, the same loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeops.backends.local.ml.hparams import HParams


@dataclass(frozen=True)
class HeadResult:
    weight: np.ndarray  # (n_labels, feature_dim)
    bias: np.ndarray  # (n_labels,)
    epochs: int
    best_epoch: int
    best_val_loss: float | None
    stop_reason: str  # MODEL_CONVERGED | BUDGET_REACHED
    history: tuple[tuple[float, float | None], ...]  # (train loss, validation loss) per epoch


def train_head(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    early_stopping: bool,
    deadline: float,
    max_epochs: int | None = None,
    hp: HParams | None = None,
) -> HeadResult:
    """``y_*`` are 0/1 matrices (n, n_labels). ``deadline`` is a ``time.monotonic()`` value.

    ``hp``: the defaults when None; ``max_epochs``: ``hp.epochs`` when None.
    """
    hp = hp or HParams()
    max_epochs = hp.epochs if max_epochs is None else max_epochs
    rng = np.random.default_rng(seed)
    xt = np.ascontiguousarray(x_train, dtype=np.float32)
    yt = np.ascontiguousarray(y_train, dtype=np.float32)
    n_labels = yt.shape[1]
    # torch.nn.Linear's initialisation: U(-1/sqrt(d), 1/sqrt(d)) for the weight and the bias
    bound = 1.0 / np.sqrt(xt.shape[1])
    weight = rng.uniform(-bound, bound, (n_labels, xt.shape[1])).astype(np.float32)
    bias = rng.uniform(-bound, bound, n_labels).astype(np.float32)
    adam = _Adam((weight, bias), hp.learning_rate, hp.weight_decay)
    cw = None if hp.class_weight is None else np.asarray(hp.class_weight, np.float32)
    keep = 1.0 - hp.dropout
    if label_smoothing > 0:
        fill = label_smoothing / 2 if multi_label else label_smoothing / n_labels
        yt_smooth = (yt * (1 - label_smoothing) + fill).astype(np.float32)
    else:
        yt_smooth = yt

    has_val = x_val is not None and y_val is not None and len(x_val) > 0
    if has_val:
        xv = np.ascontiguousarray(x_val, dtype=np.float32)
        yv = np.ascontiguousarray(y_val, dtype=np.float32)

    best_state = (weight.copy(), bias.copy())
    best_loss: float | None = None
    best_epoch = 0
    history: list[tuple[float, float | None]] = []
    stop_reason = "MODEL_CONVERGED"
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        if epoch > hp.min_epochs and time.monotonic() >= deadline:
            stop_reason = "BUDGET_REACHED"
            epoch -= 1
            break
        perm = rng.permutation(len(xt))
        total = 0.0
        for i in range(0, len(xt), hp.batch_size):
            idx = perm[i : i + hp.batch_size]
            xb: np.ndarray = xt[idx]
            if hp.dropout > 0:  # inverted dropout on the features, as torch.nn.Dropout
                xb = xb * ((rng.random(xb.shape, dtype=np.float32) < keep) / np.float32(keep))
            z = xb @ weight.T + bias
            loss, dz = _loss_and_grad(z, yt_smooth[idx], multi_label, cw)
            adam.step((dz.T @ xb, dz.sum(axis=0)))
            total += loss * len(idx)
        train_loss = total / len(xt)
        val_loss: float | None = None
        if has_val:
            # unsmoothed: the quantity early stopping watches is the real validation loss
            val_loss, _ = _loss_and_grad(xv @ weight.T + bias, yv, multi_label, cw)
        history.append((round(train_loss, 6), None if val_loss is None else round(val_loss, 6)))
        watched = val_loss if val_loss is not None else train_loss
        if best_loss is None or watched < best_loss - 1e-5:
            best_loss = watched
            best_epoch = epoch
            best_state = (weight.copy(), bias.copy())
        elif early_stopping and epoch - best_epoch >= hp.patience:
            break
    if not early_stopping or best_epoch == 0:
        best_state = (weight.copy(), bias.copy())
        best_epoch = epoch
    return HeadResult(
        weight=best_state[0],
        bias=best_state[1],
        epochs=epoch,
        best_epoch=best_epoch,
        best_val_loss=best_loss if has_val else None,
        stop_reason=stop_reason,
        history=tuple(history),
    )


def _loss_and_grad(
    z: np.ndarray, y: np.ndarray, multi_label: bool, cw: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """The loss of :func:`weighted_loss` (same definition), and its gradient by the logits."""
    if multi_label:  # binary cross-entropy with logits, the mean over every row and label
        per = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
        loss = float(per.mean(dtype=np.float64))
        return loss, ((1.0 / (1.0 + np.exp(-z)) - y) / np.float32(z.size)).astype(np.float32)
    shifted = z - z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    per_row = -(y * log_p).sum(axis=1)
    w = np.ones(len(z), np.float32) if cw is None else cw[y.argmax(axis=1)]
    total_w = float(w.sum(dtype=np.float64))
    loss = float((per_row * w).sum(dtype=np.float64) / total_w)
    p = np.exp(log_p)
    dz = (p * y.sum(axis=1, keepdims=True) - y) * (w / np.float32(total_w))[:, None]
    return loss, dz.astype(np.float32)


class _Adam:
    """torch.optim.Adam (L2 weight decay added to the gradient, bias-corrected moments), in
    place on float32 arrays."""

    def __init__(self, params: tuple[np.ndarray, ...], lr: float, weight_decay: float) -> None:
        self.params = params
        self.lr, self.wd = lr, weight_decay
        self.b1, self.b2, self.eps = 0.9, 0.999, 1e-8
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: tuple[np.ndarray, ...]) -> None:
        self.t += 1
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            if self.wd:
                g = g + self.wd * p
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def weighted_loss(torch: Any, multi_label: bool, class_weight: tuple[float, ...] | None) -> Any:
    """The loss of logits against (smoothed) 0/1 rows: cross-entropy (softmax), or binary
    cross-entropy per label (multi-label). ``class_weight`` (single-label, see
    :mod:`.weights`): each row's loss is scaled by its label's weight, and the mean is taken
    over those weights, so the validation loss early stopping watches is the balanced one too."""
    cw = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32)

    def loss(z: Any, y: Any) -> Any:
        if multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        per_row = -(y * torch.log_softmax(z, dim=-1)).sum(-1)
        if cw is None:
            return per_row.mean()
        w = cw[y.argmax(dim=-1)]  # the row's label: smoothing keeps it the largest entry
        return (per_row * w).sum() / w.sum()

    return loss


def logits(weight: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) @ weight.T.astype(np.float64) + bias.astype(np.float64)
