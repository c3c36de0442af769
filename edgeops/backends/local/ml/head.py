"""The classifier head: a linear layer on frozen backbone features, trained with torch.

Softmax + label-smoothed cross-entropy for single-label datasets, sigmoid + (smoothed) binary
cross-entropy for multi-label ones. Adam, mini-batches, dropout on the features. Early stopping
on validation loss (best weights restored) unless disabled; the budget's deadline stops training
wherever it is (after at least ``min_epochs``). Seeded and single-threaded: the same seed and
data give the same weights on any machine. Hyperparameters: :class:`~.hparams.HParams`.
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
            max_epochs=hp.epochs if max_epochs is None else max_epochs,
            hp=hp,
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
    hp: HParams,
) -> HeadResult:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.ascontiguousarray(y_train, dtype=np.float32))
    n_labels = yt.shape[1]
    linear = torch.nn.Linear(xt.shape[1], n_labels)
    drop = torch.nn.Dropout(hp.dropout)
    opt = torch.optim.Adam(linear.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)

    def smooth(y: torch.Tensor) -> torch.Tensor:
        if label_smoothing <= 0:
            return y
        if multi_label:
            return y * (1 - label_smoothing) + label_smoothing / 2
        return y * (1 - label_smoothing) + label_smoothing / n_labels

    loss_fn = weighted_loss(torch, multi_label, hp.class_weight)

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
        if epoch > hp.min_epochs and time.monotonic() >= deadline:
            stop_reason = "BUDGET_REACHED"
            epoch -= 1
            break
        linear.train()
        perm = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), hp.batch_size):
            idx = perm[i : i + hp.batch_size]
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
        elif early_stopping and epoch - best_epoch >= hp.patience:
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
