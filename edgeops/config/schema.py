"""The config contract: ``edgeops.schema.json``, loaded once.

Installed from a wheel, the schema sits at ``edgeops/_data/edgeops.schema.json`` (pyproject
force-includes it); in a source checkout it is ``schema/edgeops.schema.json`` at the repository
root, next to the package.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_REPO_SCHEMA = Path(__file__).resolve().parents[2] / "schema" / "edgeops.schema.json"


@cache
def schema_text() -> str:
    """The schema file's text, from the wheel's data folder or the source checkout (read once:
    the validation cache keys on it, the validator parses it)."""
    packaged = resources.files("edgeops").joinpath("_data", "edgeops.schema.json")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return _REPO_SCHEMA.read_text(encoding="utf-8")


@cache
def load_schema() -> dict[str, Any]:
    """The parsed schema (cached; treat it as read-only)."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema


@cache
def validator() -> Draft202012Validator:
    """A validator for the schema, built once (jsonschema is imported only to validate)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema())
