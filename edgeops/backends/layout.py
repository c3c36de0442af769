"""Where a trained model version lives and what its folder holds, on every backend.

A version is the folder ``models/<model name>/v<N>/``: under the local backend's path, or under
the google backend's bucket prefix. The local trainer writes every file below into it; the
google backend keeps the evaluation and the labels there beside Vertex AI's export.
"""

from __future__ import annotations

MODEL_INT8 = "model_int8.tflite"
MODEL_FLOAT = "model_float32.tflite"
MODEL_FILES = {"int8": MODEL_INT8, "float32": MODEL_FLOAT}  # by a target's `format`
LABELS_TXT = "labels.txt"
MODEL_CARD = "model_card.json"
EVALUATION_JSON = "evaluation.json"
REPORT_HTML = "report.html"


def version_folder(model: str, version: int) -> tuple[str, str, str]:
    """The parts of a version's folder path: ``("models", "flowers", "v3")``; ``model`` is the
    model's name (not its address)."""
    return ("models", model, f"v{version}")


def labels_text(labels: list[str] | tuple[str, ...]) -> bytes:
    """A labels file: one label a line, in the model's output order."""
    return "".join(f"{label}\n" for label in labels).encode()
