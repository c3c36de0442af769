"""Training, evaluation and TFLite export for the local backend.

Import-light: torch, LiteRT and the converters are imported only when training runs.
"""

from edgeops.backends.local.ml.trainer import (
    TRAINER_VERSION,
    TrainingExample,
    TrainOutcome,
    estimate_seconds,
    re_evaluate,
    train_and_export,
)

__all__ = [
    "TRAINER_VERSION",
    "TrainOutcome",
    "TrainingExample",
    "estimate_seconds",
    "re_evaluate",
    "train_and_export",
]
