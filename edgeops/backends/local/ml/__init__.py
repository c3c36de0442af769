"""Training, evaluation and TFLite export for the local backend.

Import-light: numpy, torch, LiteRT and the converters are imported only when training runs.
"""

from edgeops.backends.local.ml.estimate import estimate_seconds, machine_estimate
from edgeops.backends.local.ml.hparams import TRAINER_VERSION
from edgeops.backends.local.ml.trainer import TrainingExample, re_evaluate, train_and_export

# what callers outside the package use (resolve: the version and estimates; the backend, bench
# and tests: training)
__all__ = [
    "TRAINER_VERSION",
    "TrainingExample",
    "estimate_seconds",
    "machine_estimate",
    "re_evaluate",
    "train_and_export",
]
