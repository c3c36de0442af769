"""What Google's services accept that edgeops' own rules would let through, each rule beside
the reference page it comes from. Pure (no Google libraries): ``validate`` and ``plan`` use it
before any call, and ``edgeops init --backend google`` scans with it.

The fakes in ``tests/google/fakes`` enforce the same rules on the requests, citing the same pages,
so a rule edgeops forgets fails a test instead of an apply.
"""

from __future__ import annotations

import re

# Vertex AI, "Prepare image training data for classification":
PREPARE_DATA = "https://cloud.google.com/vertex-ai/docs/image-data/classification/prepare-data"
# - labels must start with a letter and contain only letters, numbers and underscores
#   (edgeops' own rule, datasets/labels.py, already limits them to 32 ASCII letters, digits, '_')
VERTEX_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# - image formats Vertex AI trains on; WebP, which edgeops' scan decodes, is not one of them
VERTEX_FORMATS = ("JPEG", "GIF", "PNG", "BMP", "ICO")
VERTEX_FORMAT_LIST = "JPEG, GIF, PNG, BMP or ICO"


def label_problem(label: str) -> str:
    """Why Vertex AI refuses ``label``, naming the rule it breaks; "" when it is accepted."""
    if VERTEX_LABEL.fullmatch(label):
        return ""
    if label and not ("A" <= label[0] <= "Z" or "a" <= label[0] <= "z"):
        broken = f"starts with '{label[0]}', not a letter"
    else:
        broken = "has characters other than letters, digits and '_'"
    return (
        f"label '{label}' {broken}: on the google backend a label must start with a letter "
        f"and hold only letters, digits and underscores (Vertex AI, {PREPARE_DATA}); "
        "rename the label"
    )


def format_problem(fmt: str) -> str:
    """Why Vertex AI refuses images of ``fmt`` (a format name: ``WEBP``, ``image/webp``)."""
    if fmt.upper() in VERTEX_FORMATS:
        return ""
    return (
        f"{fmt} images cannot be trained on by Vertex AI AutoML, which takes "
        f"{VERTEX_FORMAT_LIST} ({PREPARE_DATA}); convert it (PNG keeps every pixel) or remove it"
    )


class VertexDataRules:
    """The ``edgeops.datasets.rules.DataRules`` of the google backend."""

    def label_problem(self, label: str) -> str:
        return label_problem(label)

    def format_problem(self, fmt: str) -> str:
        return format_problem(fmt)


# Firebase ML, REST reference of projects.models, Model.displayName: "up to 32 characters ...
# ASCII Latin letters A-Z and a-z, underscores(_) and ASCII digits 0-9. It must start with a
# letter." (firebase-admin's own check, ``^[A-Za-z0-9_-]{1,32}$``, is looser: the service
# refuses '-' and a leading digit). The schema's `publish.*.firebase.display_name` pattern is this.
FIREBASE_MODELS = (
    "https://firebase.google.com/docs/reference/firebase-ml/rest/v1beta2/projects.models"
)
FIREBASE_DISPLAY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
