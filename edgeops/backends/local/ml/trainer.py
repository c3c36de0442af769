"""Train, export, evaluate and gate one model version on this machine.

The recipe (its hyperparameters are :class:`~.hparams.HParams`; bump :data:`TRAINER_VERSION`
when it changes), one phase per step, each a function of its own:
1. features (``features.training_data``): the ImageNet-pretrained EfficientNet-Lite backbone for
   ``optimize_for``, converted to a float ``.tflite`` and run by LiteRT, gives a 1280-d feature
   vector per image view; train images get augmented views (mirror, random resized crops) when
   ``training.augment`` and the train split is small enough for them to pay
   (``HParams.augment_max_train``); features are cached by image hash in ``cache_dir``.
2. head (``head.train_head``): a linear head (softmax, or sigmoid for multi-label) with label
   smoothing and dropout, early-stopped on validation loss, inside the node-hour budget.
3. calibrate (``calibrate.calibrate``): a temperature fitted on held-out logits (validation +
   k-fold out-of-fold train predictions), folded into the head's weights, so the exported model
   outputs calibrated probabilities.
   cross-validate (``crossval.cross_validate_training_data``), when the test split is small
   (or the gate reads it): k-fold cross-validated metrics of the head on train+validation's
   cached features, kept with the test evaluation and labelled as such.
4. fine-tune (``finetune.maybe_fine_tune``): for the families whose hyperparameters say so
   (``optimize_for: accuracy``) under ``training.fine_tune: auto``, when the estimated cost (from
   measured per-view costs) fits in the remaining budget, the top blocks of the backbone and the
   head are fine-tuned and that network is exported; whether it was applied, and why or why not,
   is recorded in the model card and in ``TrainOutcome.notes``.
5. export (``export.export_models``): backbone + head + softmax/sigmoid converted with
   litert-torch (float32), then static int8 with uint8 input/output; both carry TFLite metadata
   (labels, normalization).
6. evaluate (``evaluate.evaluate_on_test``): the int8 ``.tflite`` in the LiteRT interpreter on
   the test split; threshold by the rule, gate at that threshold.
7. card (``card``): evaluation.json, report.html and model_card.json beside the models.
The version folder is built in a temporary folder and moved into place at the end.

``budget.node_hours`` bounds all of it: one deadline from the start, minus the time export and
evaluation take (this machine's measured figures, else reference ones: they must finish once
started), stops feature extraction, head training, calibration, cross-validation and
fine-tuning. When it stops feature extraction, the head trains on the images extracted by then
if every label has :data:`MIN_TRAIN_PER_LABEL` of them (stop reason ``BUDGET_REACHED``; the
images used are recorded), else a ``BudgetError`` names the budget that would do. After a
training, its measured throughput is recorded for the next estimates (:mod:`.throughput`).

Importing this module is cheap: numpy, torch, LiteRT and the converters are imported inside
functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgeops.addresses import model_address
from edgeops.backends.layout import EVALUATION_JSON, LABELS_TXT, MODEL_CARD, MODEL_FLOAT, MODEL_INT8
from edgeops.backends.local.ml.hparams import TRAINER_VERSION, HParams
from edgeops.config.model import ModelSpec
from edgeops.errors import DatasetError, EdgeopsError
from edgeops.evaluation import crossval
from edgeops.files import sha256_file
from edgeops.progress import Reporter

if TYPE_CHECKING:
    from edgeops.backends.local.ml.features import TrainingData
    from edgeops.evaluation import Evaluation, GateResult

SPLITS = ("train", "validation", "test")
MIN_TRAIN_PER_LABEL = 3  # train images per label a head trained on part of the data needs


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
    images_used: dict[str, int] = field(default_factory=dict)  # per split, what training used


def re_evaluate(out_dir: Path, spec: ModelSpec) -> tuple[float, GateResult]:
    """Threshold and gate for a new rule/gate on a trained version, from its evaluation.json."""
    from edgeops.evaluation import Evaluation, judge

    judged = judge(Evaluation.from_dict(json.loads((out_dir / EVALUATION_JSON).read_text())), spec)
    return judged.threshold, judged.gate


def _check(examples: Sequence[TrainingExample], labels: Sequence[str], multi_label: bool) -> None:
    known = set(labels)
    if len(known) != len(labels) or not labels:
        raise DatasetError("labels must be a non-empty list without duplicates")
    for ex in examples:
        if ex.split not in SPLITS:
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


@contextlib.contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    t = time.monotonic()
    yield
    timings[phase] = round(time.monotonic() - t, 3)


@contextlib.contextmanager
def _atomic_dir(out_dir: Path) -> Iterator[Path]:
    """A temporary folder beside ``out_dir`` that replaces it when the body succeeds."""
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    work.chmod(0o755)  # mkdtemp makes it private; a model version is an ordinary folder
    try:
        yield work
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
    hparams: HParams | None = None,
) -> TrainOutcome:
    """Trains, exports and evaluates one version into ``out_dir`` (atomically).

    ``hparams`` (for tests and benchmarks): the recipe's hyperparameters instead of
    ``HParams.for_optimize_for(spec.optimize_for)``; ``training.fine_tune: never`` still wins.
    """
    from edgeops.backends.local.ml import card, throughput
    from edgeops.backends.local.ml.backbone import backbone_for
    from edgeops.backends.local.ml.calibrate import calibrate
    from edgeops.backends.local.ml.crossval import cross_validate_training_data
    from edgeops.backends.local.ml.estimate import export_reserve_seconds
    from edgeops.backends.local.ml.evaluate import evaluate_on_test
    from edgeops.backends.local.ml.export import export_models
    from edgeops.backends.local.ml.features import training_data, view_names
    from edgeops.backends.local.ml.finetune import maybe_fine_tune
    from edgeops.backends.local.ml.head import train_head
    from edgeops.backends.local.ml.weights import class_weights

    start = time.monotonic()
    labels = tuple(labels)
    _check(examples, labels, multi_label)
    hp = hparams or HParams.for_optimize_for(spec.optimize_for)
    opts = spec.training
    address = model_address(spec.name)
    backbone = backbone_for(spec.optimize_for)
    budget_s = spec.budget.node_hours * 3600.0
    by_split = {s: [e for e in examples if e.split == s] for s in SPLITS}
    # keep time for export and evaluation inside the budget: they finish once started
    measured = throughput.measured(spec.optimize_for).medians
    reserve = export_reserve_seconds(spec.optimize_for, len(by_split["test"]), measured)
    deadline = start + max(budget_s - reserve, 0.0)
    timings: dict[str, float] = {}
    notes: list[str] = []
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _atomic_dir(out_dir) as work:
        augmented = hp.augments(opts.augment, len(by_split["train"]))
        if opts.augment and not augmented:
            notes.append(
                f"augmented views not used: {len(by_split['train'])} train images (more than "
                f"{hp.augment_max_train}, where they stop paying)"
            )
        with _timed(timings, "features"):
            data = training_data(
                by_split["train"],
                by_split["validation"],
                labels,
                backbone,
                view_names(augmented, opts.seed, hp.crops),
                cache_dir=cache_dir,
                reporter=reporter,
                deadline=deadline,
            )
        used = {
            "train": len(data.train),
            "validation": len(data.validation),
            "test": len(by_split["test"]),
        }
        if not data.complete:
            _check_partial(data, labels, len(by_split["train"]), spec, start, reserve)
            notes.append(
                f"the budget ended feature extraction: trained on {used['train']} of "
                f"{len(by_split['train'])} train and {used['validation']} of "
                f"{len(by_split['validation'])} validation images"
            )
            reporter.warn(f"{address}: {notes[-1]}")

        weighing = class_weights(opts.class_weights, data.y_per_image, labels, multi_label)
        hp = dataclasses.replace(hp, class_weight=weighing.weights)
        if weighing.weights is not None:
            notes.append(f"class weights: {weighing.reason}")

        with _timed(timings, "train"):
            with reporter.task("training classifier head", None):
                head = train_head(
                    data.x_train,
                    data.y_train,
                    data.x_val,
                    data.y_val,
                    multi_label=multi_label,
                    seed=opts.seed,
                    label_smoothing=opts.label_smoothing,
                    early_stopping=spec.budget.early_stopping,
                    deadline=deadline,
                    hp=hp,
                )
            if head.stop_reason == "BUDGET_REACHED":
                reporter.warn(
                    f"{address}: the budget of {spec.budget.node_hours:g} node "
                    f"hours ended training after {head.epochs} epochs"
                )

        with _timed(timings, "calibrate"):
            calibration = calibrate(
                head,
                data,
                multi_label=multi_label,
                seed=opts.seed,
                label_smoothing=opts.label_smoothing,
                deadline=deadline,
                hp=hp,
            )
        weight, bias = calibration.fold(head.weight, head.bias)

        cv = None
        cv_timing: dict[str, float] = {}
        if crossval.wanted(len(by_split["test"]), spec.gate):
            # timed apart from `timings` (the phases every version has): its card records it
            with (
                _timed(cv_timing, "seconds"),
                reporter.task("cross-validating the head (k-fold, train+validation)", None),
            ):
                cv = cross_validate_training_data(
                    data,
                    labels,
                    multi_label=multi_label,
                    seed=opts.seed,
                    label_smoothing=opts.label_smoothing,
                    epochs=head.best_epoch,
                    temperature=calibration.temperature,
                    hp=hp,
                    deadline=deadline,
                )
            if cv is None:
                notes.append(
                    "cross-validation not computed: "
                    + ("the budget ran out" if time.monotonic() >= deadline else "too few images")
                )

        t = time.monotonic()
        stop_reason = "BUDGET_REACHED" if not data.complete else head.stop_reason
        tuned_net = None
        fine = maybe_fine_tune(
            spec,
            hp,
            backbone,
            head,
            data,
            multi_label=multi_label,
            deadline=deadline,
            reporter=reporter,
        )
        if fine.result is not None and fine.result.improved:
            tuned_net = fine.result.net
            weight, bias = calibration.fold(fine.result.weight, fine.result.bias)
        if fine.result is not None and fine.result.stop_reason == "BUDGET_REACHED":
            stop_reason = "BUDGET_REACHED"
        notes.append(f"fine-tuning {'applied' if fine.applied else 'not applied'}: {fine.reason}")
        if fine.details:  # it was considered: the cost was measured (and maybe it ran)
            timings["fine_tune"] = round(time.monotonic() - t, 3)

        with _timed(timings, "export"):
            export_models(
                work,
                backbone,
                weight,
                bias,
                net=tuned_net,
                multi_label=multi_label,
                labels=labels,
                train_images=[e.image_path for e in by_split["train"]],
                seed=opts.seed,
                name=f"{spec.name} v{version}",
                version=version,
                description=(
                    f"edgeops {TRAINER_VERSION}: {backbone.name}"
                    f"{' (top blocks fine-tuned)' if fine.applied else ''} + linear head, "
                    f"{'multi' if multi_label else 'single'}-label, {len(labels)} labels"
                ),
                reporter=reporter,
            )

        with _timed(timings, "evaluate"):
            test = by_split["test"]
            evaluated = evaluate_on_test(
                work,
                test,
                labels,
                backbone,
                spec,
                multi_label=multi_label,
                reporter=reporter,
                cross_validation=cv,
            )
            choice = evaluated.choice
            if not choice.met:
                reporter.warn(f"{address}: {choice.note}")

        card.write_evaluation(
            work,
            evaluated,
            title=f"{address} v{version}",
            images={e.image_id or e.image_path.name: e.image_path for e in test},
        )
        sha = {f: sha256_file(work / f) for f in (MODEL_INT8, MODEL_FLOAT, LABELS_TXT)}
        cost = round((time.monotonic() - start) / 3600.0, 6)
        model_card = card.model_card(
            spec=spec,
            version=version,
            dataset_fingerprint=dataset_fingerprint,
            backbone=backbone,
            multi_label=multi_label,
            labels=labels,
            examples={s: len(v) for s, v in by_split.items()},
            images_used=used,
            head=head,
            calibration=calibration,
            weighing=weighing,
            fine=fine,
            evaluated=evaluated,
            stop_reason=stop_reason,
            notes=notes,
            cost_node_hours=cost,
            timings=timings,
            sha256=sha,
        )
        if "cross_validation" in model_card:
            model_card["cross_validation"]["seconds"] = cv_timing.get("seconds")
        card.write_json(work / MODEL_CARD, model_card)
    throughput.record(spec.optimize_for, _figures(timings, data, used["test"]))
    return TrainOutcome(
        out_dir=out_dir,
        labels=labels,
        threshold=choice.threshold,
        evaluation=evaluated.evaluation,
        gate=evaluated.gate,
        stop_reason=stop_reason,
        cost_node_hours=cost,
        timings=timings,
        sha256=sha,
        label_thresholds=dict(choice.per_label),
        threshold_note=choice.note,
        fine_tune_applied=fine.applied,
        notes=tuple(notes),
        images_used=used,
    )


class BudgetError(EdgeopsError):
    """The budget ended feature extraction before every label had enough train images."""


def _check_partial(
    data: TrainingData,
    labels: Sequence[str],
    n_train: int,
    spec: ModelSpec,
    start: float,
    reserve: float,
) -> None:
    """Raises :class:`BudgetError` unless every label has MIN_TRAIN_PER_LABEL extracted train
    images, naming the budget that would do at the throughput measured so far."""
    counts = data.y_per_image.sum(axis=0) if len(data.per_image) else None
    short = [
        lab for i, lab in enumerate(labels) if counts is None or counts[i] < MIN_TRAIN_PER_LABEL
    ]
    if not short:
        return
    done = len(data.train) + len(data.validation)
    total = n_train + len(data.validation)
    per_image = data.extract_seconds / done if done else None
    spent = time.monotonic() - start
    if per_image is None:  # not one image computed: the conversion alone took the budget
        per_image = data.extract_seconds or 1.0
    wanted = (spent + per_image * max(total - done, 1) + reserve + 30.0) * 1.5 / 3600
    wanted = max(math.ceil(wanted * 100) / 100, spec.budget.node_hours + 0.01)
    raise BudgetError(
        f"{model_address(spec.name)}: budget.node_hours {spec.budget.node_hours:g} ran out while "
        f"computing backbone features ({len(data.train)} of {n_train} train images done; "
        f"label(s) {', '.join(short[:5])}{' …' if len(short) > 5 else ''} have fewer than "
        f"{MIN_TRAIN_PER_LABEL}). At the throughput measured here, budget.node_hours: "
        f"{wanted:g} would do"
    )


def _figures(timings: dict[str, float], data: TrainingData, n_test: int) -> dict[str, float]:
    """This run's throughput for :mod:`.throughput` (phases whose measure is meaningful)."""
    out = {"export_s": timings["export"]}
    if data.computed_views >= 10:  # a mostly cached run says little about the backbone
        out["view_s"] = data.extract_seconds / data.computed_views
    rows = sum(len(f) for f in data.per_image)
    if rows:
        out["head_s"] = (timings["train"] + timings["calibrate"]) / rows
    if n_test:
        out["evaluate_s"] = timings["evaluate"] / n_test
    return out
