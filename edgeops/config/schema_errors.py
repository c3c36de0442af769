"""JSON Schema errors -> messages a person can act on: what is wrong here, and how to fix it.

``schema_problems`` validates the plain document against ``edgeops.schema.json`` and turns each
error into one :class:`Located` problem: unknown keys get a "did you mean", ranges and patterns
are spelled out with an example from the schema, a value that YAML read as another type says
how to quote it. The schema itself is never shown.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeops.config.checks import ConfigPath, did_you_mean
from edgeops.config.document import Document, Located, value_kind
from edgeops.config.schema import load_schema, schema_text, validator

if TYPE_CHECKING:  # jsonschema is imported only when a document has to be validated
    from jsonschema.exceptions import ValidationError


def schema_problems(data: dict[str, Any], doc: Document) -> Iterator[Located]:
    """Every schema error of ``data``, as a message on the line ``doc`` recorded for it.

    A document this schema accepted before on this machine is not validated again: the
    verdict depends on the two alone, and importing jsonschema and validating cost about a
    tenth of a second of every command (the machine cache keeps one empty file per accepted
    document and schema: ``config-valid/``)."""
    known = _accepted_marker(data)
    if known is not None and known.exists():
        return
    clean = True
    for error in validator().iter_errors(data):
        clean = False
        path: ConfigPath = tuple(error.absolute_path)
        for sub_path, message in _explain(error, path, doc):
            # A missing key is reported on the line of the mapping that lacks it.
            line_path = path if error.validator == "required" else sub_path
            yield Located(doc.line_of(line_path), sub_path, message)
    if clean and known is not None:
        try:
            known.parent.mkdir(parents=True, exist_ok=True)
            known.touch()
        except OSError:
            pass  # a read-only cache: validated again next time


def _accepted_marker(data: dict[str, Any]) -> Path | None:
    """Where the machine cache marks ``data`` as accepted by this schema (None: cannot key it)."""
    from edgeops.machine import cache_dir

    try:
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # keys of mixed types: validate every time
        return None
    key = hashlib.sha256(f"{schema_text()}\0{text}".encode()).hexdigest()
    return cache_dir() / "config-valid" / key[:2] / key


_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}


def _show(value: Any) -> str:
    """A value as it would be written in YAML (short)."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = load_schema()["$defs"][ref.removeprefix("#/$defs/")]
        return resolved
    return schema


def _example(schema: dict[str, Any]) -> str:
    examples = _resolve(schema).get("examples") or []
    if not examples:
        return ""
    first = examples[0]
    if isinstance(first, bool):
        return "true" if first else "false"
    if isinstance(first, str):
        return first
    return json.dumps(first).replace('"', "")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _range(schema: dict[str, Any]) -> str:
    low = schema.get("minimum")
    low_x = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    high_x = schema.get("exclusiveMaximum")
    kind = "a whole number" if schema.get("type") == "integer" else "a number"
    parts = []
    if low is not None:
        parts.append(f"at least {_num(low)}")
    if low_x is not None:
        parts.append(f"greater than {_num(low_x)}")
    if high is not None:
        parts.append(f"at most {_num(high)}")
    if high_x is not None:
        parts.append(f"less than {_num(high_x)}")
    if low is not None and high is not None:
        parts = [f"from {_num(low)} to {_num(high)}"]
    text = f"{kind} {' and '.join(parts)}"
    example = _example(schema)
    return f"{text}, e.g. {example}" if example else text


def _explain(
    error: ValidationError, path: ConfigPath, doc: Document
) -> list[tuple[ConfigPath, str]]:
    kind = error.validator
    value = error.instance
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if kind == "additionalProperties":
        return _unknown_keys(value, schema, path)
    if kind == "required":
        props = schema.get("properties", {})
        missing = [k for k in error.validator_value if k not in value]
        out = []
        for key in missing:
            example = _example(props.get(key, {}))
            fix = f"add it, e.g. `{key}: {example}`" if example else "add it"
            out.append((path + (key,), f"missing required key '{key}'; {fix}"))
        return out
    if kind == "type":
        return [(path, _type_message(error, path, doc))]
    if kind == "enum":
        allowed = [str(v) for v in error.validator_value]
        hint = did_you_mean(str(value), allowed)
        return [
            (
                path,
                f"{_show(value)} is not one of: {', '.join(allowed)}; "
                + (hint or f"use one of them, e.g. {allowed[0]}"),
            )
        ]
    if kind == "const":
        want = _yaml_scalar(error.validator_value)
        key = path[-1] if path else "value"
        return [(path, f"{_show(value)} is not allowed here; write `{key}: {want}`")]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = error.validator_value
        what = {
            "minimum": f"is less than the minimum of {_num(bound)}",
            "maximum": f"is greater than the maximum of {_num(bound)}",
            "exclusiveMinimum": f"is not greater than the minimum of {_num(bound)} (exclusive)",
            "exclusiveMaximum": f"is not less than the maximum of {_num(bound)} (exclusive)",
        }[str(kind)]
        return [(path, f"{_num(value)} {what}; use {_range(schema)}")]
    if kind == "pattern":
        rule = schema.get("patternErrorMessage", f"it must match {error.validator_value}")
        example = _example(schema)
        fix = f"{rule}, e.g. {example}" if example else rule
        return [(path, f"{_show(value)} is not valid: {fix}")]
    if kind == "oneOf":
        return _one_of(error, path)
    if kind == "minProperties":
        options = ", ".join(schema.get("properties", {}))
        return [(path, f"is empty; add at least one of: {options}")]
    if kind == "uniqueItems":
        texts = [json.dumps(v, default=str) for v in value]
        dupe = next(v for i, v in enumerate(value) if texts[i] in texts[:i])
        return [(path, f"{_show(dupe)} is listed more than once; remove the duplicate")]
    if kind == "maxItems":
        return [(path, f"has {len(value)} items; at most {error.validator_value} are allowed")]
    if kind == "minLength":
        example = _example(schema)
        return [(path, "must not be empty; " + (f"e.g. {example}" if example else "give a value"))]
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return [(path, message)]


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unknown_keys(
    value: dict[str, Any], schema: dict[str, Any], path: ConfigPath
) -> list[tuple[ConfigPath, str]]:
    props = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    extras = [k for k in value if k not in props and not any(re.search(p, k) for p in patterns)]
    out = []
    for key in extras:
        if patterns and "patternErrorMessage" in schema:  # a map whose keys have their own rule
            out.append(
                (path + (key,), f"'{key}' is not a valid key: {schema['patternErrorMessage']}")
            )
            continue
        if patterns:
            noun = {"datasets": "dataset", "models": "model", "publish": "model"}.get(
                str(path[-1]) if path else "", "entry"
            )
            suggestion = re.sub(r"[^a-z0-9_-]+", "_", key.lower()).strip("_-") or "name"
            if not suggestion[0].isalpha():
                suggestion = f"n{suggestion}"
            out.append(
                (
                    path + (key,),
                    f"'{key}' is not a valid {noun} name; use lowercase letters, digits, '_' "
                    f"or '-', starting with a letter (at most 63), e.g. '{suggestion[:63]}'",
                )
            )
            continue
        hint = did_you_mean(key, props)
        fix = hint or f"valid keys here: {', '.join(props)}"
        out.append((path + (key,), f"unknown key '{key}'; {fix}"))
    return out


def _type_message(error: ValidationError, path: ConfigPath, doc: Document) -> str:
    expected = error.validator_value
    names = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    value = error.instance
    if value is None:
        return f"is empty, expected {want}; give it a value or remove the key"
    got = f"got {value_kind(value)} {_show(value)}"
    if path in doc.interpolated:
        return (
            f"expected {want}, {got}; ${{...}} interpolation always gives text, so write this "
            f"value directly in the file"
        )
    raw = doc.raw.get(path, str(value))
    if "string" in names and not isinstance(value, dict | list):
        read_as = f" (YAML reads {raw} as {_show(value)})" if raw != _show(value) else ""
        return f"expected {want}, {got}{read_as}; quote it: '{raw}'"
    if isinstance(value, str) and ({"number", "integer"} & set(names)) and _is_number(value):
        return f"expected {want}, {got}; remove the quotes: {value.strip()}"
    example = _example(error.schema if isinstance(error.schema, dict) else {})
    return f"expected {want}, {got}" + (f"; e.g. {example}" if example else "")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _one_of(error: ValidationError, path: ConfigPath) -> list[tuple[ConfigPath, str]]:
    branches = error.validator_value
    keys = [
        b["required"][0]
        for b in branches
        if isinstance(b, dict) and list(b) == ["required"] and len(b["required"]) == 1
    ]
    value = error.instance
    if len(keys) == len(branches) and isinstance(value, dict):
        present = [k for k in keys if k in value]
        options = ", ".join(keys)
        if not present:
            return [(path, f"needs exactly one of: {options}; add one")]
        return [
            (
                path,
                f"has {' and '.join(present)}, but exactly one of {options} is allowed; keep one",
            )
        ]
    if not isinstance(value, dict):
        return []  # the type error on the same path says it better
    return [(path, error.message)]
