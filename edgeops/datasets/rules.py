"""Rules a backend's trainer adds to edgeops' own data rules (``labels.py``, ``images.py``).

edgeops accepts what AutoML Vision Edge accepted. A backend whose trainer is stricter (Vertex AI
refuses labels that start with a digit, and WebP images) hands the scan a ``DataRules``, so a
refused label or image is a plan-time problem naming its folder, file or CSV line, never an
import error after the upload. The scan knows nothing of backends: it only asks these questions.
"""

from __future__ import annotations

from typing import Protocol


class DataRules(Protocol):
    # Why the trainer refuses ``label`` (a label edgeops' own rule accepts); "" when it takes it.
    def label_problem(self, label: str) -> str: ...

    # Why the trainer refuses images of ``fmt`` (a recorded format: JPEG, PNG, GIF, BMP, ICO,
    # WEBP); "" when it takes them.
    def format_problem(self, fmt: str) -> str: ...
