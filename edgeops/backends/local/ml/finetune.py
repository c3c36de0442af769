"""Fine-tuning the top blocks of the backbone together with the head (``optimize_for: accuracy``).

After the head is trained on frozen features, the last :data:`BLOCKS` MBConv blocks, the final
1x1 convolution (+ its batch norm's affine parameters) and the head are trained together for a
few epochs at a low learning rate, early-stopped on validation loss (best weights restored).

Cost: the frozen lower part of the network (stem + all but the last blocks) never changes, so
its activations are computed once per image view, by a float ``.tflite`` of that lower part run
in LiteRT (converted once and cached, like the feature backbone); only the top blocks run in
torch eager, forward and backward, each epoch. The views are the head's (plain, mirror and two
seeded random resized crops when ``training.augment``): the same augmentation. Batch norm keeps
its ImageNet statistics (eval mode) and drop-connect is off: with a few hundred images, updating
running statistics hurts, and it keeps the run deterministic for a given machine.

:func:`estimate` predicts the wall time from measured per-view costs so the trainer can skip
fine-tuning, with a recorded reason, when the remaining budget does not allow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeops.backends.local.ml.backbone import Backbone, load_rgb, normalize

BLOCKS = 2  # MBConv blocks unfrozen at the top of the backbone
MAX_EPOCHS = 5
PATIENCE = 2
BATCH_SIZE = 16
LEARNING_RATE = 1e-4  # backbone blocks; the head gets HEAD_LR_FACTOR times it
HEAD_LR_FACTOR = 2.0
WEIGHT_DECAY = 1e-5
DROPOUT = 0.2


@dataclass(frozen=True)
class FineTuneResult:
    net: Any  # the EfficientNet (torch) with the tuned top blocks, eval mode
    weight: np.ndarray  # (n_labels, feature_dim), uncalibrated
    bias: np.ndarray
    epochs: int
    best_epoch: int  # 0: no epoch beat the frozen-feature head on validation loss
    initial_val_loss: float
    best_val_loss: float
    stop_reason: str  # MODEL_CONVERGED | BUDGET_REACHED
    history: tuple[tuple[float, float], ...] = field(default=())

    @property
    def improved(self) -> bool:
        return self.best_epoch > 0


class _Split:
    """Builds the lower (frozen) and upper (tuned) halves of an EfficientNet-Lite."""

    def __init__(self, net: Any, blocks: int) -> None:
        self.net = net
        self.blocks = blocks

    def lower_module(self) -> Any:
        import torch

        net, k = self.net, self.blocks

        class Lower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                x = x.permute(0, 3, 1, 2)
                x = net._swish(net._bn0(net._conv_stem(x)))
                for block in net._blocks[:-k]:
                    x = block(x)
                return x

        return Lower().eval()

    def upper(self, a: Any) -> Any:
        net = self.net
        for block in net._blocks[-self.blocks :]:
            a = block(a)
        return net._swish(net._bn1(net._conv_head(a))).mean(dim=(2, 3))

    def trainable(self) -> list[Any]:
        net = self.net
        params = [p for b in net._blocks[-self.blocks :] for p in b.parameters()]
        return params + list(net._conv_head.parameters()) + list(net._bn1.parameters())


def measure_upper_ms(backbone: Backbone, blocks: int = BLOCKS, batch: int = 8) -> float:
    """Measured ms per view of the tuned top (forward + backward), torch eager, this machine."""
    import torch

    from edgeops.backends.local.ml.backbone import load_torch_backbone

    split = _Split(load_torch_backbone(backbone), blocks)
    with torch.no_grad():
        a = split.lower_module()(torch.zeros(1, backbone.image_size, backbone.image_size, 3))
    x = torch.randn(batch, *a.shape[1:], generator=torch.Generator().manual_seed(0))
    params = split.trainable()
    for p in split.net.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    split.upper(x[:2]).sum().backward()  # warm-up
    t = time.perf_counter()
    split.upper(x).sum().backward()
    return (time.perf_counter() - t) / batch * 1000


def estimate(
    *,
    n_train_views: int,
    n_val: int,
    view_ms: float,
    upper_ms: float,
    convert_s: float,
    epochs: int = MAX_EPOCHS,
) -> float:
    """Seconds: convert the lower part, its activations once per view, then the epochs."""
    activations = (n_train_views + n_val) * view_ms / 1000
    per_epoch = (n_train_views * upper_ms + n_val * upper_ms / 3) / 1000
    return convert_s + activations + epochs * per_epoch


def lower_activations(
    jobs: Sequence[tuple[Path, str, tuple[str, ...]]],
    backbone: Backbone,
    lower_tflite: Path,
    advance: Callable[[int], None] = lambda n: None,
) -> list[np.ndarray]:
    """For each (path, sha256, views): an array (len(views), C, H, W) of lower activations."""
    from edgeops.backends.local.ml.features import LiteRTRunner, render_view

    runner = LiteRTRunner(lower_tflite)
    out = []
    for path, sha, views in jobs:
        image = load_rgb(path)
        out.append(
            np.stack(
                [
                    runner(normalize(render_view(image, v, backbone.image_size, sha))).astype(
                        np.float32
                    )
                    for v in views
                ]
            )
        )
        advance(1)
    return out


def lower_model(backbone: Backbone, blocks: int = BLOCKS) -> bytes:
    """The float ``.tflite`` of the frozen lower part: NHWC normalized image -> activations."""
    from edgeops.backends.local.ml.backbone import load_torch_backbone
    from edgeops.backends.local.ml.export import convert

    split = _Split(load_torch_backbone(backbone), blocks)
    return convert(split.lower_module(), backbone.image_size)


def fine_tune(
    backbone: Backbone,
    weight: np.ndarray,
    bias: np.ndarray,
    train_acts: Sequence[np.ndarray],
    y_train: np.ndarray,
    val_acts: np.ndarray,
    y_val: np.ndarray,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    early_stopping: bool,
    deadline: float,
    max_epochs: int = MAX_EPOCHS,
    blocks: int = BLOCKS,
    advance: Callable[[int], None] = lambda n: None,
) -> FineTuneResult:
    """Trains the top ``blocks`` + head from the trained head (``weight``, ``bias``).

    ``train_acts[i]``: lower activations of train image i's views, ``y_train[i]`` its 0/1 row;
    ``val_acts``: the validation images' plain-view activations (n_val, C, H, W).
    """
    import torch

    from edgeops.backends.local.ml.backbone import load_torch_backbone

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    split = _Split(load_torch_backbone(backbone), blocks)
    net = split.net.eval()  # batch norm statistics frozen, drop-connect off
    for p in net.parameters():
        p.requires_grad_(False)
    tuned = split.trainable()
    for p in tuned:
        p.requires_grad_(True)
    fc = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
        fc.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))
    drop = torch.nn.Dropout(DROPOUT)
    opt = torch.optim.Adam(
        [
            {"params": tuned, "lr": LEARNING_RATE},
            {"params": fc.parameters(), "lr": LEARNING_RATE * HEAD_LR_FACTOR},
        ],
        weight_decay=WEIGHT_DECAY,
    )

    counts = [len(a) for a in train_acts]
    xt = torch.from_numpy(np.concatenate(train_acts).astype(np.float32))
    yt = torch.from_numpy(np.repeat(np.asarray(y_train, np.float32), counts, axis=0))
    xv = torch.from_numpy(np.asarray(val_acts, np.float32))
    yv = torch.from_numpy(np.asarray(y_val, np.float32))
    n_labels = yt.shape[1]

    def loss_fn(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        return -(y * torch.log_softmax(z, dim=-1)).sum(-1).mean()

    def smooth(y: torch.Tensor) -> torch.Tensor:
        if label_smoothing <= 0:
            return y
        return y * (1 - label_smoothing) + label_smoothing / (2 if multi_label else n_labels)

    def val_loss() -> float:
        with torch.no_grad():
            z = torch.cat([fc(split.upper(xv[i : i + 32])) for i in range(0, len(xv), 32)])
            return float(loss_fn(z, yv))

    def snapshot() -> dict[str, Any]:
        state = {f"p{i}": p.detach().clone() for i, p in enumerate(tuned)}
        state["w"], state["b"] = fc.weight.detach().clone(), fc.bias.detach().clone()
        return state

    initial = val_loss()
    best, best_loss, best_epoch = snapshot(), initial, 0
    history: list[tuple[float, float]] = []
    stop_reason = "MODEL_CONVERGED"
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        if time.monotonic() >= deadline:
            stop_reason = "BUDGET_REACHED"
            epoch -= 1
            break
        perm = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(fc(drop(split.upper(xt[idx]))), smooth(yt[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        vl = val_loss()
        history.append((round(total / len(xt), 6), round(vl, 6)))
        advance(1)
        if vl < best_loss - 1e-5:
            best, best_loss, best_epoch = snapshot(), vl, epoch
        elif early_stopping and epoch - best_epoch >= PATIENCE:
            break
    if not early_stopping and epoch > 0:
        best, best_loss, best_epoch = snapshot(), history[-1][1], epoch
    with torch.no_grad():
        for i, p in enumerate(tuned):
            p.copy_(best[f"p{i}"])
        for p in net.parameters():
            p.requires_grad_(False)
    return FineTuneResult(
        net=net,
        weight=best["w"].numpy().copy(),
        bias=best["b"].numpy().copy(),
        epochs=epoch,
        best_epoch=best_epoch,
        initial_val_loss=round(initial, 6),
        best_val_loss=round(best_loss, 6),
        stop_reason=stop_reason,
        history=tuple(history),
    )
