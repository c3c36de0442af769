"""How the planner words values and structural diffs in a change's reason (for people)."""

from __future__ import annotations

from typing import Any

from edgeops.plan.definition import NEW_VERSION


def fmt(v: Any) -> str:
    if v is None:
        return "unset"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def vname(v: int | str) -> str:
    return "the version trained by this apply" if v == NEW_VERSION else f"v{v}"


def spec_diff_lines(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """DeepDiff's structural diff of two spec dicts, as 'field old -> new' lines."""
    if old == new:
        return []
    from deepdiff import DeepDiff  # ~0.25 s to import: only when a target's fields changed

    diff = DeepDiff(old, new, verbose_level=2)
    lines = []
    for path, change in diff.get("values_changed", {}).items():
        lines.append(f"{_ddpath(path)} {fmt(change['old_value'])} -> {fmt(change['new_value'])}")
    for path, change in diff.get("type_changes", {}).items():
        lines.append(f"{_ddpath(path)} {fmt(change['old_value'])} -> {fmt(change['new_value'])}")
    for key in ("dictionary_item_added", "iterable_item_added"):
        for path, value in (diff.get(key) or {}).items():
            lines.append(f"{_ddpath(path)} added {fmt(value)}")
    for key in ("dictionary_item_removed", "iterable_item_removed"):
        for path, value in (diff.get(key) or {}).items():
            lines.append(f"{_ddpath(path)} removed {fmt(value)}")
    return sorted(lines)


def _ddpath(path: str) -> str:
    # root['tags'][1] -> tags[1]
    out = path.removeprefix("root")
    out = out.replace("']['", ".").replace("['", "").replace("']", "")
    return out.lstrip(".") or "spec"
