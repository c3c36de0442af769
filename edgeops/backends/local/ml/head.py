"""The classifier head: a linear layer on frozen backbone features, trained with torch.

Softmax + label-smoothed cross-entropy for single-label datasets, sigmoid + (smoothed) binary
cross-entropy for multi-label ones. Adam, mini-batches, dropout on the features. Early stopping
on validation loss (best weights restored) unless disabled; the budget's deadline stops training
wherever it is (after at least one epoch). Seeded and single-threaded: the same seed and
data give the same weights on any machine.

Calibration: label smoothing (and early stopping) leave the head under-confident, so its logits
are divided by a temperature fitted on held-out predictions (:func:`calibration_logits`,
:func:`fit_temperature`) and the temperature is folded into the weights, so the exported model
outputs calibrated probabilities. The held-out predictions are the validation split's plus
out-of-fold predictions on the train split (k-fold heads trained like the final one): a
validation split of a few dozen images is too small, and too easily dominated by one or two
doubtful labels, to fit even one parameter well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_EPOCHS = 150
MIN_EPOCHS = 1  # even an exhausted budget gets one epoch: never export an untrained head
PATIENCE = 12
BATCH_SIZE = 32
LEARNING_RATE = 5e-4  # 2e-3 reached its best validation loss in 2-3 epochs: seed-dependent
WEIGHT_DECAY = 1e-4
DROPOUT = 0.2


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
    max_epochs: int = MAX_EPOCHS,
) -> HeadResult:
    """``y_*`` are 0/1 matrices (n, n_labels). ``deadline`` is a ``time.monotonic()`` value."""
    import torch

    threads = torch.get_num_threads()
    # One thread: a linear layer on a few thousand rows gains nothing from more, and the result
    # then does not depend on the machine's core count.
    torch.set_num_threads(1)
    try:
        return _train(
            torch,
            x_train,
            y_train,
            x_val,
            y_val,
            multi_label=multi_label,
            seed=seed,
            label_smoothing=label_smoothing,
            early_stopping=early_stopping,
            deadline=deadline,
            max_epochs=max_epochs,
        )
    finally:
        torch.set_num_threads(threads)


def _train(
    torch: Any,
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
    max_epochs: int,
) -> HeadResult:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y_train, dtype=np.float32))
    n_labels = yt.shape[1]
    linear = torch.nn.Linear(xt.shape[1], n_labels)
    drop = torch.nn.Dropout(DROPOUT)
    opt = torch.optim.Adam(linear.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)

    def smooth(y: torch.Tensor) -> torch.Tensor:
        if label_smoothing <= 0:
            return y
        if multi_label:
            return y * (1 - label_smoothing) + label_smoothing / 2
        return y * (1 - label_smoothing) + label_smoothing / n_labels

    def loss_fn(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        return -(y * torch.log_softmax(logits, dim=-1)).sum(-1).mean()

    has_val = x_val is not None and y_val is not None and len(x_val) > 0
    if has_val:
        xv = torch.from_numpy(np.ascontiguousarray(x_val, dtype=np.float32))
        yv = torch.from_numpy(np.ascontiguousarray(y_val, dtype=np.float32))

    best_state = (linear.weight.detach().clone(), linear.bias.detach().clone())
    best_loss: float | None = None
    best_epoch = 0
    history: list[tuple[float, float | None]] = []
    stop_reason = "MODEL_CONVERGED"
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        if epoch > MIN_EPOCHS and time.monotonic() >= deadline:
            stop_reason = "BUDGET_REACHED"
            epoch -= 1
            break
        linear.train()
        perm = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(linear(drop(xt[idx])), smooth(yt[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        train_loss = total / len(xt)
        val_loss: float | None = None
        if has_val:
            linear.eval()
            with torch.no_grad():
                # unsmoothed: the quantity early stopping watches is the real validation loss
                val_loss = float(loss_fn(linear(xv), yv))
        history.append((round(train_loss, 6), None if val_loss is None else round(val_loss, 6)))
        watched = val_loss if val_loss is not None else train_loss
        if best_loss is None or watched < best_loss - 1e-5:
            best_loss = watched
            best_epoch = epoch
            best_state = (linear.weight.detach().clone(), linear.bias.detach().clone())
        elif early_stopping and epoch - best_epoch >= PATIENCE:
            break
    if not early_stopping or best_epoch == 0:
        best_state = (linear.weight.detach().clone(), linear.bias.detach().clone())
        best_epoch = epoch
    return HeadResult(
        weight=best_state[0].numpy().copy(),
        bias=best_state[1].numpy().copy(),
        epochs=epoch,
        best_epoch=best_epoch,
        best_val_loss=best_loss if has_val else None,
        stop_reason=stop_reason,
        history=tuple(history),
    )


CALIBRATION_FOLDS = 5
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0


def calibration_logits(
    train_views: list[np.ndarray],
    y_train: np.ndarray,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    epochs: int,
    folds: int = CALIBRATION_FOLDS,
) -> np.ndarray | None:
    """Out-of-fold logits of the train images' first (plain) view, or None if too few images.

    ``train_views[i]`` holds the feature rows of train image i (its augmented views, plain view
    first), ``y_train[i]`` its 0/1 label row. Each fold's head is trained like the final head,
    for the final head's best number of epochs, on the other folds' images (all their views).
    """
    n = len(train_views)
    if n < 2 * folds:
        return None
    fold = np.random.default_rng(seed).permutation(n) % folds
    counts = np.array([len(v) for v in train_views])
    out = np.zeros((n, y_train.shape[1]), dtype=np.float64)
    for k in range(folds):
        fit = np.nonzero(fold != k)[0]
        held = np.nonzero(fold == k)[0]
        head = train_head(
            np.concatenate([train_views[i] for i in fit]),
            np.repeat(y_train[fit], counts[fit], axis=0),
            None,
            None,
            multi_label=multi_label,
            seed=seed + 1 + k,
            label_smoothing=label_smoothing,
            early_stopping=False,
            deadline=float("inf"),
            max_epochs=max(epochs, 1),
        )
        plain = np.stack([train_views[i][0] for i in held])
        out[held] = logits(head.weight, head.bias, plain)
    return out


def _nll(z: np.ndarray, y: np.ndarray, multi_label: bool) -> float:
    if multi_label:
        # mean binary cross-entropy, stable: log(1 + e^z) - y z
        return float(np.mean(np.logaddexp(0.0, z) - y * z))
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(np.mean(-(y * logp).sum(1) / np.maximum(y.sum(1), 1)))


def fit_temperature(z: np.ndarray, y: np.ndarray, multi_label: bool) -> float:
    """The temperature T minimizing the log loss of ``z / T`` (``y``: 0/1 rows).

    A golden-section search over log T (the loss is unimodal in it), within
    [MIN_TEMPERATURE, MAX_TEMPERATURE]; deterministic, numpy only.
    """
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(z) == 0:
        return 1.0

    def loss(log_t: float) -> float:
        return _nll(z / np.exp(log_t), y, multi_label)

    lo, hi = np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = loss(b)
    t = float(np.exp((lo + hi) / 2))
    # keep T = 1 unless the fitted one is really better (flat losses, e.g. a perfect split)
    return round(t, 4) if loss(np.log(t)) < loss(0.0) - 1e-9 else 1.0


def logits(weight: np.ndarray, bias: np.ndarray, x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) @ weight.T.astype(np.float64) + bias.astype(np.float64)


def predict(weight: np.ndarray, bias: np.ndarray, x: np.ndarray, multi_label: bool) -> np.ndarray:
    z = logits(weight, bias, x)
    if multi_label:
        return 1 / (1 + np.exp(-z))
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)
