"""Fine-tuning the top blocks of the backbone together with the head.

After the head is trained on frozen features, the last ``fine_tune_blocks`` MBConv blocks, the
final 1x1 convolution (+ its batch norm's affine parameters) and the head are trained together,
early-stopped on validation loss (best weights restored): AdamW, a linear warm-up then cosine
decay over ``fine_tune_epochs``. ``optimize_for: accuracy`` tunes Lite2's whole last stage
(6 blocks), ``balanced`` Lite1's top 2 blocks (:class:`~.hparams.HParams`).

Cost: the frozen lower part of the network (stem + all but the last blocks) never changes, so
its activations are computed once per image view, by a float ``.tflite`` of that lower part run
in LiteRT (converted once per machine, like the feature backbone); only the top blocks run in
torch eager, forward and backward, each epoch. Each train image contributes
``fine_tune_views`` of the head's views (plain, then the seeded random resized crops when
``training.augment``). Batch norm keeps its ImageNet statistics (eval mode) and drop-connect is
off: with a few hundred images, updating running statistics hurts, and it keeps the run
deterministic for a given machine.

The fine-tune phase (:func:`maybe_fine_tune`) predicts the wall time from measured per-view costs
(:func:`~.estimate.fine_tune_seconds`) and skips fine-tuning, with a recorded reason, when the
remaining budget does not allow it; the tuned network is exported only when it beat the
frozen-feature head's validation loss. Hyperparameters: ``fine_tune_*`` in
:class:`~.hparams.HParams`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeops.backends.local.ml.backbone import Backbone
from edgeops.backends.local.ml.hparams import HParams, fine_tuned_families
from edgeops.runtime.images import load_rgb, normalize

if TYPE_CHECKING:
    from edgeops.backends.local.ml.features import ImageViews, TrainingData
    from edgeops.backends.local.ml.head import HeadResult
    from edgeops.config.model import ModelSpec
    from edgeops.progress import Reporter


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


def measure_upper_ms(backbone: Backbone, blocks: int, batch: int = 8) -> float:
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


def tuning_views(views: Sequence[str], n: int) -> tuple[str, ...]:
    """The ``n`` views of a train image fine-tuning sees, of the head's ``views``: the plain one,
    then the random resized crops, then the mirror."""
    ordered = [v for v in views if v == "plain"] + [v for v in views if v.startswith("crop")]
    ordered += [v for v in views if v not in ordered]
    return tuple(ordered[: max(n, 1)])


def lower_activations(
    jobs: Sequence[ImageViews],
    backbone: Backbone,
    lower_tflite: Path,
    advance: Callable[[int], None] = lambda n: None,
) -> list[np.ndarray]:
    """For each (path, sha256, views): an array (len(views), C, H, W) of lower activations."""
    from edgeops.backends.local.ml.features import render_view
    from edgeops.runtime.litert import LiteRTRunner

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


def lower_model(backbone: Backbone, blocks: int) -> bytes:
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
    hp: HParams,
    advance: Callable[[int], None] = lambda n: None,
) -> FineTuneResult:
    """Trains the top ``hp.fine_tune_blocks`` + head from the trained head (``weight``, ``bias``)
    for at most ``hp.fine_tune_epochs``.

    ``train_acts[i]``: lower activations of train image i's views, ``y_train[i]`` its 0/1 row;
    ``val_acts``: the validation images' plain-view activations (n_val, C, H, W).
    """
    import torch

    from edgeops.backends.local.ml.backbone import load_torch_backbone
    from edgeops.backends.local.ml.head import weighted_loss

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    split = _Split(load_torch_backbone(backbone), hp.fine_tune_blocks)
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
    drop = torch.nn.Dropout(hp.fine_tune_dropout)
    lr = hp.fine_tune_learning_rate
    opt = torch.optim.AdamW(
        [
            {"params": tuned, "lr": lr},
            {"params": fc.parameters(), "lr": lr * hp.fine_tune_head_lr_factor},
        ],
        weight_decay=hp.fine_tune_weight_decay,
    )
    base_lrs = [group["lr"] for group in opt.param_groups]

    counts = [len(a) for a in train_acts]
    xt = torch.from_numpy(np.concatenate(train_acts).astype(np.float32))
    yt = torch.from_numpy(np.repeat(np.asarray(y_train, np.float32), counts, axis=0))
    xv = torch.from_numpy(np.asarray(val_acts, np.float32))
    yv = torch.from_numpy(np.asarray(y_val, np.float32))
    n_labels = yt.shape[1]

    loss_fn = weighted_loss(torch, multi_label, hp.class_weight)

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

    steps = hp.fine_tune_epochs * math.ceil(len(xt) / hp.fine_tune_batch_size)
    warmup = max(1, round(hp.fine_tune_warmup * steps))
    step = 0

    def schedule() -> None:  # linear warm-up, then cosine decay to 0 at the last epoch's end
        f = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step / steps, 1)))
        for group, base in zip(opt.param_groups, base_lrs, strict=True):
            group["lr"] = base * f

    initial = val_loss()
    best, best_loss, best_epoch = snapshot(), initial, 0
    history: list[tuple[float, float]] = []
    stop_reason = "MODEL_CONVERGED"
    epoch = 0
    for epoch in range(1, hp.fine_tune_epochs + 1):
        if time.monotonic() >= deadline:
            stop_reason = "BUDGET_REACHED"
            epoch -= 1
            break
        perm = torch.randperm(len(xt), generator=g)
        total = 0.0
        for i in range(0, len(xt), hp.fine_tune_batch_size):
            idx = perm[i : i + hp.fine_tune_batch_size]
            schedule()
            step += 1
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
        elif early_stopping and epoch - best_epoch >= hp.fine_tune_patience:
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


@dataclass(frozen=True)
class FineTuneOutcome:
    applied: bool
    reason: str
    result: FineTuneResult | None = None  # when it ran
    details: dict[str, Any] = field(default_factory=dict)  # when it was considered: the costs


def maybe_fine_tune(
    spec: ModelSpec,
    hp: HParams,
    backbone: Backbone,
    head: HeadResult,
    data: TrainingData,
    *,
    multi_label: bool,
    deadline: float,
    reporter: Reporter,
) -> FineTuneOutcome:
    """The fine-tune phase: the top blocks with the head, when ``hp.fine_tune`` asks for it,
    ``training.fine_tune`` does not forbid it and the estimated cost fits in the budget left."""
    from edgeops.backends.local.ml import estimate
    from edgeops.backends.local.ml.export import backbone_path, converted_backbone

    if spec.training.fine_tune == "never":
        return FineTuneOutcome(False, "training.fine_tune is never")
    if not hp.fine_tune:
        families = ", ".join(fine_tuned_families())
        return FineTuneOutcome(
            False, f"only for optimize_for: {families} (this is {spec.optimize_for})"
        )
    if not data.validation:
        return FineTuneOutcome(False, "no validation images to early-stop on")
    blocks = hp.fine_tune_blocks
    lower_kind = f"lower{blocks}"
    cached = backbone_path(backbone, lower_kind).exists()
    upper_ms = measure_upper_ms(backbone, blocks)
    train_jobs = [(p, sha, tuning_views(views, hp.fine_tune_views)) for p, sha, views in data.train]
    seconds = estimate.fine_tune_seconds(
        n_train_views=sum(len(views) for _, _, views in train_jobs),
        n_val=len(data.validation),
        view_ms=estimate.VIEW_MS[spec.optimize_for],
        upper_ms=upper_ms,
        convert_s=0.0 if cached else estimate.CONVERT_S[spec.optimize_for],
        epochs=hp.fine_tune_epochs,
    )
    remaining = deadline - time.monotonic()
    details: dict[str, Any] = {
        "estimate_s": round(seconds, 1),
        "remaining_budget_s": round(remaining, 1),
        "measured_upper_ms_per_view": round(upper_ms, 2),
        "blocks": blocks,
        "max_epochs": hp.fine_tune_epochs,
    }
    if seconds > remaining:
        return FineTuneOutcome(
            False,
            f"estimated {seconds:.0f} s exceeds the {max(remaining, 0):.0f} s left in the budget",
            details=details,
        )
    with reporter.task(f"converting {backbone.name} lower blocks", None):
        lower = converted_backbone(backbone, lower_kind, lambda: lower_model(backbone, blocks))
    jobs = train_jobs + list(data.validation)
    with reporter.task("computing activations for fine-tuning", len(jobs)) as task:
        acts = lower_activations(jobs, backbone, lower, task.advance)
    assert data.y_val is not None  # there are validation images
    n_train = len(data.train)
    with reporter.task("fine-tuning top blocks", hp.fine_tune_epochs) as task:
        result = fine_tune(
            backbone,
            head.weight,
            head.bias,
            acts[:n_train],
            data.y_per_image,
            np.concatenate(acts[n_train:]),
            data.y_val,
            multi_label=multi_label,
            seed=spec.training.seed,
            label_smoothing=spec.training.label_smoothing,
            early_stopping=spec.budget.early_stopping,
            deadline=deadline,
            hp=hp,
            advance=task.advance,
        )
    details.update(
        {
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,
            "initial_val_loss": result.initial_val_loss,
            "best_val_loss": result.best_val_loss,
            "stop_reason": result.stop_reason,
        }
    )
    if not result.improved:
        return FineTuneOutcome(
            False,
            f"ran {result.epochs} epoch(s) but the validation loss did not "
            "improve on the frozen-feature head's "
            f"({result.initial_val_loss:.4f})",
            result,
            details,
        )
    return FineTuneOutcome(
        True,
        f"validation loss {result.initial_val_loss:.4f} -> "
        f"{result.best_val_loss:.4f} (best epoch {result.best_epoch} of "
        f"{result.epochs}); estimated {seconds:.0f} s of {remaining:.0f} s "
        "left",
        result,
        details,
    )
