"""Train, export, evaluate and gate one model version on this machine.

The recipe (bump :data:`TRAINER_VERSION` when it changes):
1. features: the ImageNet-pretrained EfficientNet-Lite backbone for ``optimize_for``, converted
   to a float ``.tflite`` and run by LiteRT, gives a 1280-d feature vector per image view; train
   images get augmented views (mirror, two random resized crops) when ``training.augment``;
   features are cached by image hash in ``cache_dir``.
2. train: a linear head (softmax, or sigmoid for multi-label) with label smoothing and dropout,
   early-stopped on validation loss, inside the node-hour budget; then calibrated by a
   temperature fitted on held-out logits (validation + 5-fold out-of-fold train predictions)
   and folded into the head's weights, so the exported model outputs calibrated probabilities.
3. export: backbone + head + softmax/sigmoid converted with litert-torch (float32), then static
   int8 with uint8 input/output; both carry TFLite metadata (labels, normalization).
4. evaluate: the int8 ``.tflite`` in the LiteRT interpreter on the test split; threshold by the
   rule, gate at that threshold.
With ``optimize_for: accuracy`` and ``training.fine_tune: auto``, when the estimated cost (from
measured per-view costs) fits in the remaining budget, the top blocks of the backbone and the
head are then fine-tuned (see ``finetune``) and that network is exported; whether it was applied,
and why or why not, is recorded in the model card and in ``TrainOutcome.notes``.

Importing this module is cheap: torch, LiteRT and the converters are imported inside functions.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeops.backends.layout import (
    EVALUATION_JSON,
    LABELS_TXT,
    MODEL_CARD,
    MODEL_FLOAT,
    MODEL_INT8,
    REPORT_HTML,
)
from edgeops.config.model import ModelSpec
from edgeops.errors import DatasetError
from edgeops.evaluation import (
    Evaluation,
    GateResult,
    apply_gate,
    choose_threshold,
    evaluate_scores,
    render_html,
)
from edgeops.files import sha256_file as _sha256
from edgeops.progress import Reporter

TRAINER_VERSION = "local-effnetlite-linear-2"

REPRESENTATIVE_IMAGES = 64  # int8 calibration images from the train split

# Measured on the reference machine (2 cores): per-view backbone ms in LiteRT, conversion s.
_VIEW_MS = {"latency": 9.0, "balanced": 12.0, "accuracy": 17.0}
_DECODE_MS = 12.0
_CONVERT_S = {"latency": 12.0, "balanced": 14.0, "accuracy": 17.0}
_INT8_MS = {"latency": 12.0, "balanced": 16.0, "accuracy": 22.0}
# ms per view of the fine-tuned top blocks, forward + backward in torch eager
_UPPER_MS = {"latency": 6.0, "balanced": 7.0, "accuracy": 9.0}


@dataclass(frozen=True)
class TrainingExample:
    image_path: Path  # a real image file (JPEG/PNG/GIF/BMP/ICO/WebP), decoded with Pillow
    labels: tuple[str, ...]  # one label for single-label datasets, 1+ for multi-label
    split: str  # "train" | "validation" | "test"
    image_id: str = ""  # how reports name the image; defaults to the file name


@dataclass(frozen=True)
class TrainOutcome:
    out_dir: Path
    labels: tuple[str, ...]
    threshold: float
    evaluation: Evaluation
    gate: GateResult
    stop_reason: str  # MODEL_CONVERGED | BUDGET_REACHED
    cost_node_hours: float
    timings: dict[str, float]
    sha256: dict[str, str]
    label_thresholds: dict[str, float] = field(default_factory=dict)  # multi-label only
    threshold_note: str = ""  # set when the threshold rule's target could not be met
    fine_tune_applied: bool = False
    notes: tuple[str, ...] = ()  # e.g. why fine-tuning was applied or skipped


def estimate_seconds(n_images: int, optimize_for: str, fine_tune: bool | None = None) -> float:
    """Wall time of :func:`train_and_export` on this machine without a warm cache (pure).

    ``fine_tune``: whether to count fine-tuning the top blocks; by default for ``accuracy``
    (``training.fine_tune: auto``), whose models fine-tune when the budget allows it.
    """
    if optimize_for not in _VIEW_MS:
        raise ValueError(f"unknown optimize_for {optimize_for!r}")
    if fine_tune is None:
        fine_tune = optimize_for == "accuracy"
    n_train = 0.8 * n_images
    views = n_train * 4 + (n_images - n_train)
    features = (
        _CONVERT_S[optimize_for]
        + n_images * _DECODE_MS / 1000
        + (views * _VIEW_MS[optimize_for] / 1000)
    )
    train = 5.0 + n_train * 4 * 0.004
    export = 2 * _CONVERT_S[optimize_for] + 8.0
    evaluate = 2.0 + 0.1 * n_images * (_INT8_MS[optimize_for] + _VIEW_MS[optimize_for]) / 1000
    tune = 0.0
    if fine_tune:
        from edgeops.backends.local.ml.finetune import MAX_EPOCHS, estimate

        tune = estimate(
            n_train_views=int(n_train * 4),
            n_val=int(0.1 * n_images),
            view_ms=_VIEW_MS[optimize_for],
            upper_ms=_UPPER_MS[optimize_for],
            convert_s=_CONVERT_S[optimize_for],
            epochs=MAX_EPOCHS,
        )
    return round(features + train + export + evaluate + tune, 1)


def re_evaluate(out_dir: Path, spec: ModelSpec) -> tuple[float, GateResult]:
    """Threshold and gate for a new rule/gate on a trained version, from its evaluation.json."""
    evaluation = Evaluation.from_dict(json.loads((out_dir / EVALUATION_JSON).read_text()))
    threshold = choose_threshold(evaluation, spec.threshold).threshold
    return threshold, apply_gate(evaluation, threshold, spec.gate)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _check(examples: Sequence[TrainingExample], labels: Sequence[str], multi_label: bool) -> None:
    known = set(labels)
    if len(known) != len(labels) or not labels:
        raise DatasetError("labels must be a non-empty list without duplicates")
    for ex in examples:
        if ex.split not in ("train", "validation", "test"):
            raise DatasetError(f"{ex.image_path}: unknown split {ex.split!r}")
        if not ex.labels or (not multi_label and len(ex.labels) != 1):
            raise DatasetError(
                f"{ex.image_path}: a {'multi' if multi_label else 'single'}-label "
                f"example needs {'1+' if multi_label else 'exactly 1'} label(s), "
                f"has {len(ex.labels)}"
            )
        unknown = set(ex.labels) - known
        if unknown:
            raise DatasetError(f"{ex.image_path}: label(s) {sorted(unknown)} not in {list(labels)}")
    for split in ("train", "test"):
        if not any(ex.split == split for ex in examples):
            raise DatasetError(f"the {split} split is empty; a model needs train and test images")


def thumbnail(path: Path) -> str:
    """A small JPEG data URI of an image (for reports: the worst mistakes)."""
    from edgeops.backends.local.ml.backbone import load_rgb

    image = load_rgb(path)
    image.thumbnail((96, 96))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _calibrate(
    head: Any,
    train_views: list[Any],
    y_train: Any,
    x_val: Any,
    y_val: Any,
    *,
    multi_label: bool,
    seed: int,
    label_smoothing: float,
    deadline: float,
) -> dict[str, Any]:
    """Fits the head's temperature on held-out logits: validation + out-of-fold train."""
    import numpy as np

    from edgeops.backends.local.ml.head import calibration_logits, fit_temperature, logits

    zs, ys, sources = [], [], []
    if x_val is not None and y_val is not None and len(x_val):
        zs.append(logits(head.weight, head.bias, x_val))
        ys.append(y_val)
        sources.append(f"validation ({len(x_val)})")
    if time.monotonic() < deadline:
        oof = calibration_logits(
            train_views,
            y_train,
            multi_label=multi_label,
            seed=seed,
            label_smoothing=label_smoothing,
            epochs=head.best_epoch,
        )
        if oof is not None:
            zs.append(oof)
            ys.append(y_train)
            sources.append(f"train out-of-fold ({len(oof)})")
    if not zs:
        return {"temperature": 1.0, "held_out": [], "note": "no held-out predictions"}
    z, y = np.concatenate(zs), np.concatenate(ys)
    temperature = fit_temperature(z, y, multi_label)
    return {"temperature": temperature, "held_out": sources, "method": "temperature scaling"}


@dataclass(frozen=True)
class _FineTune:
    applied: bool
    reason: str
    result: Any = None  # finetune.FineTuneResult when it ran
    details: dict[str, Any] = field(default_factory=dict)


def _fine_tune(
    spec: ModelSpec,
    backbone: Any,
    head: Any,
    by_split: dict[str, Any],
    shas: dict[Path, str],
    train_views: tuple[str, ...],
    y_train: Any,
    y_val: Any,
    multi_label: bool,
    *,
    cache_dir: Path | None,
    work: Path,
    deadline: float,
    reporter: Reporter,
    force: bool,
    max_epochs: int | None,
) -> _FineTune:
    """Fine-tunes the top blocks when the spec asks for it and the budget allows it."""
    import numpy as np

    from edgeops.backends.local.ml import export as ex
    from edgeops.backends.local.ml import finetune as ft

    opts = spec.training
    if opts.fine_tune == "never":
        return _FineTune(False, "training.fine_tune is never")
    if spec.optimize_for != "accuracy" and not force:
        return _FineTune(False, f"only for optimize_for: accuracy (this is {spec.optimize_for})")
    if not by_split["validation"]:
        return _FineTune(False, "no validation images to early-stop on")
    epochs = ft.MAX_EPOCHS if max_epochs is None else max_epochs
    lower_name = f"{backbone.name}-lower{ft.BLOCKS}-{TRAINER_VERSION}.tflite"
    cached = cache_dir is not None and (cache_dir / "backbones" / lower_name).exists()
    upper_ms = ft.measure_upper_ms(backbone)
    n_train_views = len(by_split["train"]) * len(train_views)
    n_val = len(by_split["validation"])
    estimate = ft.estimate(
        n_train_views=n_train_views,
        n_val=n_val,
        view_ms=_VIEW_MS[spec.optimize_for],
        upper_ms=upper_ms,
        convert_s=0.0 if cached else _CONVERT_S[spec.optimize_for],
        epochs=epochs,
    )
    remaining = deadline - time.monotonic()
    details: dict[str, Any] = {
        "estimate_s": round(estimate, 1),
        "remaining_budget_s": round(remaining, 1),
        "measured_upper_ms_per_view": round(upper_ms, 2),
        "blocks": ft.BLOCKS,
        "max_epochs": epochs,
    }
    if estimate > remaining:
        return _FineTune(
            False,
            f"estimated {estimate:.0f} s exceeds the {max(remaining, 0):.0f} s left in the budget",
            details=details,
        )
    with reporter.task(f"converting {backbone.name} lower blocks", None):
        lower = ex.cached_model(lower_name, cache_dir, work, lambda: ft.lower_model(backbone))
    jobs = [(e.image_path, shas[e.image_path], train_views) for e in by_split["train"]]
    jobs += [(e.image_path, shas[e.image_path], ("plain",)) for e in by_split["validation"]]
    with reporter.task("computing activations for fine-tuning", len(jobs)) as task:
        acts = ft.lower_activations(jobs, backbone, lower, task.advance)
    n_train = len(by_split["train"])
    with reporter.task("fine-tuning top blocks", epochs) as task:
        result = ft.fine_tune(
            backbone,
            head.weight,
            head.bias,
            acts[:n_train],
            y_train,
            np.concatenate(acts[n_train:]),
            y_val,
            multi_label=multi_label,
            seed=opts.seed,
            label_smoothing=opts.label_smoothing,
            early_stopping=spec.budget.early_stopping,
            deadline=deadline,
            max_epochs=epochs,
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
        return _FineTune(
            False,
            f"ran {result.epochs} epoch(s) but the validation loss did not "
            "improve on the frozen-feature head's "
            f"({result.initial_val_loss:.4f})",
            result,
            details,
        )
    return _FineTune(
        True,
        f"validation loss {result.initial_val_loss:.4f} -> "
        f"{result.best_val_loss:.4f} (best epoch {result.best_epoch} of "
        f"{result.epochs}); estimated {estimate:.0f} s of {remaining:.0f} s "
        "left",
        result,
        details,
    )


def _clean_stale(out_dir: Path) -> None:
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)


def train_and_export(
    examples: Sequence[TrainingExample],
    labels: Sequence[str],
    multi_label: bool,
    spec: ModelSpec,
    out_dir: Path,
    *,
    version: int,
    dataset_fingerprint: str,
    reporter: Reporter,
    cache_dir: Path | None = None,
    force_fine_tune: bool = False,
    fine_tune_epochs: int | None = None,
) -> TrainOutcome:
    """Trains, exports and evaluates one version into ``out_dir`` (atomically).

    ``force_fine_tune`` (internal, for tests and benchmarks) fine-tunes whatever the
    ``optimize_for`` (``training.fine_tune: never`` still wins); ``fine_tune_epochs`` caps it.
    """
    import numpy as np

    from edgeops.backends.local.ml import export as ex
    from edgeops.backends.local.ml.backbone import backbone_for, load_rgb, normalize, to_input
    from edgeops.backends.local.ml.features import LiteRTRunner, extract_features, view_names
    from edgeops.backends.local.ml.head import train_head
    from edgeops.files import sha256_file as file_sha256

    start = time.monotonic()
    labels = tuple(labels)
    _check(examples, labels, multi_label)
    opts = spec.training
    backbone = backbone_for(spec.optimize_for)
    budget_s = spec.budget.node_hours * 3600.0
    # keep time for export and evaluation inside the budget
    reserve = 2 * _CONVERT_S[spec.optimize_for] + 10.0
    deadline = start + max(budget_s - reserve, 0.0)
    timings: dict[str, float] = {}
    notes: list[str] = []
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _clean_stale(out_dir)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    work.chmod(0o755)  # mkdtemp makes it private; a model version is an ordinary folder
    try:
        index = {lab: i for i, lab in enumerate(labels)}

        def onehot(rows: Sequence[TrainingExample]) -> Any:
            y = np.zeros((len(rows), len(labels)), dtype=np.float32)
            for i, e in enumerate(rows):
                for lab in e.labels:
                    y[i, index[lab]] = 1.0
            return y

        by_split = {
            s: [e for e in examples if e.split == s] for s in ("train", "validation", "test")
        }
        # --- features -------------------------------------------------------------------
        t = time.monotonic()
        with reporter.task(f"converting {backbone.name} backbone", None):
            backbone_path = ex.feature_backbone(backbone, cache_dir, work, TRAINER_VERSION)
        shas = {e.image_path: file_sha256(e.image_path) for e in examples}
        train_views = view_names(opts.augment, opts.seed)
        jobs = [
            (e.image_path, shas[e.image_path], train_views if e.split == "train" else ("plain",))
            for s in ("train", "validation")
            for e in by_split[s]
        ]
        with reporter.task("computing backbone features", len(jobs)) as task:
            feats = extract_features(jobs, backbone, backbone_path, cache_dir, task.advance)
        n_train = len(by_split["train"])
        y_tr = onehot(by_split["train"])
        x_train = np.concatenate(feats[:n_train])
        y_train = np.repeat(y_tr, [len(f) for f in feats[:n_train]], axis=0)
        x_val = np.concatenate(feats[n_train:]) if len(feats) > n_train else None
        y_val = onehot(by_split["validation"]) if x_val is not None else None
        timings["features"] = round(time.monotonic() - t, 3)

        # --- train ------------------------------------------------------------------------
        t = time.monotonic()
        with reporter.task("training classifier head", None):
            head = train_head(
                x_train,
                y_train,
                x_val,
                y_val,
                multi_label=multi_label,
                seed=opts.seed,
                label_smoothing=opts.label_smoothing,
                early_stopping=spec.budget.early_stopping,
                deadline=deadline,
            )
        if head.stop_reason == "BUDGET_REACHED":
            reporter.warn(
                f"model.{spec.name}: the budget of {spec.budget.node_hours:g} node "
                f"hours ended training after {head.epochs} epochs"
            )
        timings["train"] = round(time.monotonic() - t, 3)

        # --- calibrate: temperature on held-out logits, folded into the head ------------------
        t = time.monotonic()
        calibration = _calibrate(
            head,
            feats[:n_train],
            y_tr,
            x_val,
            y_val,
            multi_label=multi_label,
            seed=opts.seed,
            label_smoothing=opts.label_smoothing,
            deadline=deadline,
        )
        temperature = float(calibration["temperature"])
        weight = (head.weight / temperature).astype(np.float32)
        bias = (head.bias / temperature).astype(np.float32)
        timings["calibrate"] = round(time.monotonic() - t, 3)

        # --- fine-tune the top blocks (optimize_for: accuracy, fine_tune: auto) ---------------
        t = time.monotonic()
        stop_reason = head.stop_reason
        tuned_net = None
        fine = _fine_tune(
            spec,
            backbone,
            head,
            by_split,
            shas,
            train_views,
            y_tr,
            y_val,
            multi_label,
            cache_dir=cache_dir,
            work=work,
            deadline=deadline,
            reporter=reporter,
            force=force_fine_tune,
            max_epochs=fine_tune_epochs,
        )
        if fine.result is not None and fine.result.improved:
            tuned_net = fine.result.net
            weight = (fine.result.weight / temperature).astype(np.float32)
            bias = (fine.result.bias / temperature).astype(np.float32)
        if fine.result is not None and fine.result.stop_reason == "BUDGET_REACHED":
            stop_reason = "BUDGET_REACHED"
        notes.append(f"fine-tuning {'applied' if fine.applied else 'not applied'}: {fine.reason}")
        if fine.details:  # it was considered: the cost was measured (and maybe it ran)
            timings["fine_tune"] = round(time.monotonic() - t, 3)

        # --- export -----------------------------------------------------------------------
        t = time.monotonic()
        name = f"{spec.name} v{version}"
        desc = (
            f"edgeops {TRAINER_VERSION}: {backbone.name}"
            f"{' (top blocks fine-tuned)' if fine.applied else ''} + linear head, "
            f"{'multi' if multi_label else 'single'}-label, {len(labels)} labels"
        )
        with reporter.task("exporting TFLite models", 2) as task:

            def write_model(file: str, model: bytes, kind: str, quantized: bool) -> None:
                (work / file).write_bytes(
                    ex.with_metadata(
                        model,
                        labels=labels,
                        backbone=backbone,
                        name=name,
                        version=str(version),
                        description=f"{desc}, {kind}",
                        quantized=quantized,
                    )
                )

            float_model = ex.classifier_float(backbone, weight, bias, multi_label, net=tuned_net)
            write_model(MODEL_FLOAT, float_model, "float32", quantized=False)
            task.advance()
            rep_rng = np.random.default_rng(opts.seed)
            train_paths = [e.image_path for e in by_split["train"]]
            chosen = sorted(
                rep_rng.choice(
                    len(train_paths),
                    size=min(REPRESENTATIVE_IMAGES, len(train_paths)),
                    replace=False,
                ).tolist()
            )
            representative = [
                normalize(to_input(load_rgb(train_paths[i]), backbone.image_size)) for i in chosen
            ]
            int8_model = ex.quantize_int8(float_model, representative)
            write_model(MODEL_INT8, int8_model, "int8 (uint8 input/output)", quantized=True)
            task.advance()
        (work / LABELS_TXT).write_text("".join(f"{lab}\n" for lab in labels))
        timings["export"] = round(time.monotonic() - t, 3)

        # --- evaluate ---------------------------------------------------------------------
        t = time.monotonic()
        test = by_split["test"]
        int8_run = LiteRTRunner(work / MODEL_INT8)
        float_run = LiteRTRunner(work / MODEL_FLOAT)
        scores, float_top = [], []
        with reporter.task("evaluating int8 model on the test split", len(test)) as task:
            for e in test:
                pixels = to_input(load_rgb(e.image_path), backbone.image_size)
                scores.append(int8_run.scores(pixels))
                float_top.append(int(np.argmax(float_run.scores(pixels))))
                task.advance()
        score_arr = np.stack(scores)
        agreement = float(np.mean(score_arr.argmax(1) == np.asarray(float_top)))
        ids = [e.image_id or e.image_path.name for e in test]
        evaluation = evaluate_scores(
            score_arr,
            [e.labels for e in test],
            labels,
            multi_label=multi_label,
            image_ids=ids,
            extra={
                "model": MODEL_INT8,
                "runtime": "LiteRT interpreter",
                "int8_float_top1_agreement": round(agreement, 6),
            },
        )
        choice = choose_threshold(evaluation, spec.threshold)
        if not choice.met:
            reporter.warn(f"model.{spec.name}: {choice.note}")
        gate = apply_gate(evaluation, choice.threshold, spec.gate)
        timings["evaluate"] = round(time.monotonic() - t, 3)

        _write_json(work / EVALUATION_JSON, evaluation.to_dict())
        thumbs = {}
        by_id = {i: e.image_path for i, e in zip(ids, test, strict=True)}
        for m in evaluation.mistakes[:12]:
            thumbs[m.image_id] = thumbnail(by_id[m.image_id])
        (work / REPORT_HTML).write_text(
            render_html(
                evaluation,
                title=f"model.{spec.name} v{version}",
                threshold=choice.threshold,
                gate=gate,
                thumbnails=thumbs,
            )
        )
        sha = {f: _sha256(work / f) for f in (MODEL_INT8, MODEL_FLOAT, LABELS_TXT)}
        cost = (time.monotonic() - start) / 3600.0
        _write_json(
            work / MODEL_CARD,
            {
                "name": spec.name,
                "version": version,
                "trainer_version": TRAINER_VERSION,
                "dataset_fingerprint": dataset_fingerprint,
                "backbone": backbone.name,
                "input_size": backbone.image_size,
                "optimize_for": spec.optimize_for,
                "multi_label": multi_label,
                "labels": list(labels),
                "normalization": {"mean": 127.0, "std": 128.0},
                "training": {
                    "seed": opts.seed,
                    "augment": opts.augment,
                    "label_smoothing": opts.label_smoothing,
                    "fine_tune": opts.fine_tune,
                    "fine_tune_applied": fine.applied,
                    "fine_tune_reason": fine.reason,
                    "fine_tune_details": fine.details,
                    "epochs": head.epochs,
                    "best_epoch": head.best_epoch,
                    "best_val_loss": head.best_val_loss,
                    "calibration": calibration,
                    "examples": {s: len(v) for s, v in by_split.items()},
                },
                "budget_node_hours": spec.budget.node_hours,
                "early_stopping": spec.budget.early_stopping,
                "stop_reason": stop_reason,
                "notes": notes,
                "cost_node_hours": round(cost, 6),
                "timings_s": timings,
                "threshold": {
                    "rule": spec.threshold.describe(),
                    "value": choice.threshold,
                    "met": choice.met,
                    "note": choice.note,
                    "per_label": choice.per_label,
                },
                "metrics": {
                    "au_prc": evaluation.au_prc,
                    "log_loss": evaluation.log_loss,
                    "top1_accuracy": evaluation.top1_accuracy,
                    **{k: v for k, v in evaluation.overall.at(choice.threshold).items()},
                    "int8_float_top1_agreement": round(agreement, 6),
                    "test_images": evaluation.n_examples,
                },
                "gate": gate.to_dict(),
                "sha256": sha,
            },
        )
        # --- publish atomically -----------------------------------------------------------
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.tmp-old-{os.getpid()}"
            os.replace(out_dir, old)
            os.replace(work, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return TrainOutcome(
        out_dir=out_dir,
        labels=labels,
        threshold=choice.threshold,
        evaluation=evaluation,
        gate=gate,
        stop_reason=stop_reason,
        cost_node_hours=round(cost, 6),
        timings=timings,
        sha256=sha,
        label_thresholds=dict(choice.per_label),
        threshold_note=choice.note,
        fine_tune_applied=fine.applied,
        notes=tuple(notes),
    )
