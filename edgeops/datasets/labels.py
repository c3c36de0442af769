"""The label rule of AutoML Vision Edge: 1-32 ASCII letters, digits or underscores."""

from __future__ import annotations

import re
import unicodedata

LABEL_RE = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_LABEL_LEN = 32
LABEL_RULE = "labels are 1-32 ASCII letters, digits or underscores"

MIN_IMAGES_PER_LABEL = 10  # fewer is an error
RECOMMENDED_IMAGES_PER_LABEL = 100  # fewer is a warning


def is_valid_label(label: str) -> bool:
    return LABEL_RE.fullmatch(label) is not None


def suggest_label(label: str) -> str:
    """A valid label close to ``label`` (for "rename it to ..." hints); "" if none."""
    ascii_ = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_).strip("_")
    return cleaned[:MAX_LABEL_LEN].rstrip("_")


def label_problem(label: str) -> str:
    """Why ``label`` is invalid, as "what is wrong" (without the fix)."""
    if not label:
        return "empty label"
    if len(label) > MAX_LABEL_LEN:
        return f"label '{label}' has {len(label)} characters; {LABEL_RULE}"
    if not label.isascii():
        return f"label '{label}' has non-ASCII characters; {LABEL_RULE}"
    if any(c.isspace() for c in label):
        return f"label '{label}' contains spaces; {LABEL_RULE}"
    return f"label '{label}' has characters other than letters, digits, '_'; {LABEL_RULE}"


def rename_hint(label: str) -> str:
    suggestion = suggest_label(label)
    return f" (e.g. '{suggestion}')" if suggestion else ""
