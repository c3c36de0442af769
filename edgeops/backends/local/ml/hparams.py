"""The local trainer's recipe: its version and its hyperparameters, one frozen object per family.

``training:`` in edgeops.yaml holds what the user chooses (seed, augment, label smoothing,
fine_tune); :class:`HParams` holds what the recipe chooses. Hyperparameters are not part of a
model's fingerprint, :data:`TRAINER_VERSION` is: change a value here together with the version,
so every model plans a retrain and no state keeps a model the old recipe made under the new name.

Importing this module is cheap (no numpy, no torch): the planner reads :data:`TRAINER_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass

# 3: class weights, deeper fine-tuning (balanced, accuracy), plain views above augment_max_train
TRAINER_VERSION = "local-effnetlite-linear-3"


@dataclass(frozen=True)
class HParams:
    # augmentation (features.py): views of each train image when training.augment
    crops: int = 2  # random resized crops, besides the plain view and its mirror
    # Train splits larger than this get the plain view only: the views stop paying. Measured
    # (bench/views.py: OpenCV's handwritten digits, Lite0 head, 2,000 held-out digits, top-1
    # plain vs 4 views, train+validation images): 100: 0.743 vs 0.761; 300 (260 train):
    # 0.878 vs 0.898; 500 (420 train): 0.917 vs 0.920; 700: 0.932 vs 0.930; 1,000: 0.942 vs
    # 0.935 (95% Wilson intervals +-0.01-0.02). Above ~400 train images they cost 4x the
    # feature extraction (and head training) for nothing measurable.
    augment_max_train: int = 400

    # the linear head on frozen features (head.py)
    epochs: int = 150
    min_epochs: int = 1  # even an exhausted budget gets one epoch: never export an untrained head
    patience: int = 12  # epochs without a better validation loss before early stopping
    batch_size: int = 32
    learning_rate: float = (
        5e-4  # 2e-3 reached its best validation loss in 2-3 epochs: seed-dependent
    )
    weight_decay: float = 1e-4
    dropout: float = 0.2  # on the features

    # calibration (calibrate.py): out-of-fold train predictions join the validation split's
    calibration_folds: int = 5
    # from this many validation images, the temperature is fitted on them alone (no folds)
    calibration_validation_enough: int = 100

    # fine-tuning the top of the backbone with the head (finetune.py)
    fine_tune: bool = False  # whether `training.fine_tune: auto` fine-tunes (budget permitting)
    fine_tune_blocks: int = 2  # MBConv blocks unfrozen at the top of the backbone
    fine_tune_epochs: int = 5
    fine_tune_patience: int = 2
    fine_tune_batch_size: int = 16
    # views per train image fine-tuning sees: the plain view, then the random resized crops
    # (each mirrored or not), then the mirror; the cost is per view per epoch
    fine_tune_views: int = 2
    fine_tune_warmup: float = 0.05  # share of the steps with a linear warm-up, then cosine decay
    fine_tune_learning_rate: float = 1e-4  # backbone blocks; the head gets head_lr_factor times it
    fine_tune_head_lr_factor: float = 2.0
    fine_tune_weight_decay: float = 1e-5
    fine_tune_dropout: float = 0.2

    # per label, set for each run by the trainer (weights.class_weights: training.class_weights
    # and the train split's label counts); None: every row weighs the same
    class_weight: tuple[float, ...] | None = None

    def augments(self, augment: bool, n_train: int) -> bool:
        """Whether ``n_train`` train images get augmented views under ``training.augment``."""
        return augment and n_train <= self.augment_max_train

    def views_per_image(self, augment: bool, n_train: int) -> int:
        """Feature rows per train image: plain, mirror and the crops, or the plain view."""
        return 2 + self.crops if self.augments(augment, n_train) else 1

    @classmethod
    def for_latency(cls) -> HParams:
        """EfficientNet-Lite0: a head on frozen features."""
        return cls()

    @classmethod
    def for_balanced(cls) -> HParams:
        """EfficientNet-Lite1: a head on frozen features, then its top 2 blocks with the head,
        when the budget allows it and validation says it helps."""
        return cls(fine_tune=True)

    @classmethod
    def for_accuracy(cls) -> HParams:
        """EfficientNet-Lite2: a head on frozen features, then its whole last stage (6 blocks
        at 9x9, the final 1x1 convolution) with the head, longer and at a higher rate, when the
        budget allows it and validation says it helps.

        Measured (handwritten digits, 800 train / 200 validation / 1,000 held-out, plain views,
        float32): frozen Lite2 head 0.940 [0.929, 0.950]; top 2 blocks, 2 epochs 0.944; the last
        stage (6 blocks), 2 epochs at 3e-4 with cosine decay 0.966 [0.957, 0.973].
        """
        return cls(
            fine_tune=True,
            fine_tune_blocks=6,
            fine_tune_epochs=8,
            fine_tune_learning_rate=3e-4,
        )

    @classmethod
    def for_optimize_for(cls, optimize_for: str) -> HParams:
        if optimize_for == "latency":
            return cls.for_latency()
        if optimize_for == "balanced":
            return cls.for_balanced()
        if optimize_for == "accuracy":
            return cls.for_accuracy()
        raise ValueError(f"unknown optimize_for {optimize_for!r}")


def fine_tuned_families() -> tuple[str, ...]:
    """The optimize_for values whose models fine-tune under ``training.fine_tune: auto``."""
    return tuple(
        f for f in ("latency", "balanced", "accuracy") if HParams.for_optimize_for(f).fine_tune
    )
