"""The google backend: Vertex AI AutoML Edge training, Cloud Storage, Firebase ML publishing.

Everything here imports ``google.cloud.*`` and ``firebase_admin`` lazily, inside functions, so
``edgeops --help``, ``validate`` and ``plan`` of a local config never load them.
"""

# Part of every google model's training fingerprint: bump it when what edgeops asks Vertex AI
# for changes (model types, training inputs), so existing versions are retrained.
TRAINER_VERSION = "vertex-automl-edge-1"
