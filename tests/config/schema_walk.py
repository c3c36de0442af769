"""An independent walk over the schema's properties, for the schema and reference tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from edgeops.config.schema import load_schema


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    assert ref.startswith("#/$defs/"), ref
    target: dict[str, Any] = load_schema()["$defs"][ref.split("/")[-1]]
    return target


def properties(
    node: dict[str, Any] | None = None, prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path with <name> for map entries, resolved subschema) for every property."""
    node = load_schema() if node is None else node
    for key, child in node.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        yield path, resolve(child)
        yield from properties(resolve(child), path)
    for child in node.get("patternProperties", {}).values():
        yield f"{prefix}.<name>", resolve(child)
        yield from properties(resolve(child), f"{prefix}.<name>")
