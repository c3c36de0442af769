"""``edgeops.yaml`` as plain data with positions: read, parse, ``${}`` interpolation.

Rules of the language enforced here (the schema describes the rest):

- One YAML document, a mapping at the top, UTF-8. Duplicate keys are errors. Aliases
  (``*name``) are refused, so a document cannot expand beyond its own size. Custom tags
  (``!foo``), NaN and infinities are refused.
- ``${VAR}`` in a string value is replaced by the environment variable (an error when unset);
  ``${VAR:-default}`` uses ``default`` when VAR is unset or empty; ``$${`` writes a literal
  ``${``. Interpolation happens before validation and applies to string values only: the result
  stays a string, so numbers and booleans cannot come from the environment.

A file that cannot be read or parsed at all raises :class:`ConfigError` at once; problems inside
the document (duplicate keys, tags, unset variables...) are collected on :class:`Document` with
their lines, so the loader reports them all together.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.error import Mark, MarkedYAMLError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from edgeops.config.checks import ConfigPath, dotted
from edgeops.errors import ConfigError

MAX_BYTES = 1 << 20  # a config is a page or two; refuse anything absurd before parsing it
MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


# --- reading and parsing -------------------------------------------------------------------


def shown_name(path: Path) -> str:
    """The file name used in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def read_text(path: Path, shown: str) -> str:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}: file not found; create it with `edgeops init` or pass the right path with -f"
        ) from None
    except OSError as e:
        raise ConfigError(f"{shown}: cannot read the file: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"{shown}: the file is larger than {MAX_BYTES // 1024} KiB; an edgeops config is "
            f"a page or two of YAML: check that this is the right file"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(
            f"{shown}:{line}:{col}: the file is not UTF-8 text (byte 0x{raw[e.start]:02x}); "
            f"save it as UTF-8"
        ) from None


class _AliasRefused(MarkedYAMLError):
    pass


class _Composer(yaml.SafeLoader):
    """Composes the node graph only; refuses aliases before they can be expanded."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise _AliasRefused(problem="alias", problem_mark=event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


def parse(text: str, shown: str) -> Node:
    loader = _Composer(text)
    try:
        node = loader.get_single_node()
    except _AliasRefused as e:
        raise ConfigError(
            f"{shown}:{_where(e.problem_mark)}: YAML aliases (*name) are not allowed in "
            f"edgeops.yaml; write the value out in full instead of referring to an anchor"
        ) from None
    except yaml.composer.ComposerError as e:
        if "single document" in str(e.context):
            raise ConfigError(
                f"{shown}:{_where(e.problem_mark)}: only one YAML document is allowed; remove "
                f"the `---` separator and everything after it, or merge the documents"
            ) from None
        raise ConfigError(_syntax(shown, e)) from None
    except MarkedYAMLError as e:
        raise ConfigError(_syntax(shown, e)) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise ConfigError(
            f"{shown}:{line}: YAML syntax error: character {e.character!r} is not allowed; "
            f"remove it"
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{shown}: YAML nesting is too deep; an edgeops config is a few levels deep"
        ) from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError(f"{shown}:1: the file is empty; start it with `version: 1`")
    return node


def _where(mark: Mark | None) -> str:
    return f"{mark.line + 1}:{mark.column + 1}" if mark else "1"


def _syntax(shown: str, e: MarkedYAMLError) -> str:
    mark = e.problem_mark or e.context_mark
    problem = e.problem or e.context or "invalid YAML"
    if e.context and e.context_mark and mark and e.context_mark.line != mark.line:
        problem += f" ({e.context} started at line {_where(e.context_mark)})"
    return (
        f"{shown}:{_where(mark)}: YAML syntax error: {problem}; fix the indentation/quoting "
        f"near here"
    )


# --- the plain document, with positions ---------------------------------------------------


@dataclass(frozen=True)
class Located:
    """One problem with its place: ``edgeops.yaml:14: models.a.keep: what is wrong; fix``."""

    line: int
    path: ConfigPath
    message: str

    def render(self, shown: str) -> str:
        return f"{shown}:{self.line}: {dotted(self.path)}: {self.message}"


_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass
class Document:
    """Builds plain Python data from YAML nodes, recording where each path was written."""

    env: Mapping[str, str]
    key_marks: dict[ConfigPath, Mark] = field(default_factory=dict)
    value_marks: dict[ConfigPath, Mark] = field(default_factory=dict)
    raw: dict[ConfigPath, str] = field(default_factory=dict)
    interpolated: set[ConfigPath] = field(default_factory=set)
    problems: list[Located] = field(default_factory=list)
    _scalars: yaml.SafeLoader = field(default_factory=lambda: yaml.SafeLoader(""))

    def line_of(self, path: ConfigPath) -> int:
        """The line a path was written on (its key's line), or its nearest written parent's."""
        for n in range(len(path), -1, -1):
            mark = self.key_marks.get(path[:n]) or self.value_marks.get(path[:n])
            if mark is not None:
                return mark.line + 1
        return 1

    def build(self, node: Node) -> Any:
        return self._value(node, ())

    def _problem(self, mark: Mark, path: ConfigPath, message: str) -> None:
        self.problems.append(Located(mark.line + 1, path, message))

    def _value(self, node: Node, path: ConfigPath) -> Any:
        self.value_marks[path] = node.start_mark
        if len(path) > MAX_DEPTH:
            self._problem(node.start_mark, path, "nested too deeply; remove the extra levels")
            return None
        if isinstance(node, MappingNode):
            if node.tag != _TAG + "map":
                return self._bad_tag(node, path)
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            if node.tag != _TAG + "seq":
                return self._bad_tag(node, path)
            return [self._value(item, path + (i,)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        if node.tag not in _SCALAR_TAGS:
            return self._bad_tag(node, path)
        self.raw[path] = node.value
        value = self._scalars.construct_object(node)
        if isinstance(value, float) and not math.isfinite(value):
            self._problem(
                node.start_mark, path, f"{node.value} is not a finite number; use a number"
            )
            return None
        if isinstance(value, str) and "$" in value:
            return self._interpolate(value, node.start_mark, path)
        return value

    def _bad_tag(self, node: Node, path: ConfigPath) -> None:
        self._problem(
            node.start_mark,
            path,
            f"YAML tag {node.tag.replace(_TAG, '!!')} is not supported; remove the tag (quote "
            f"the value if it should be text)",
        )

    def _mapping(self, node: MappingNode, path: ConfigPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self._problem(
                    key_node.start_mark, path, "a key must be plain text, not a list or mapping"
                )
                continue
            key = key_node.value  # keys are text as written (`on:` stays "on", `1:` stays "1")
            child = path + (key,)
            if key in out:
                first = self.key_marks[child].line + 1
                self._problem(
                    key_node.start_mark,
                    child,
                    f"duplicate key '{key}' (first written on line {first}); remove one of them",
                )
                continue
            self.key_marks[child] = key_node.start_mark
            out[key] = self._value(value_node, child)
        return out

    def _interpolate(self, text: str, mark: Mark, path: ConfigPath) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            if token == "$${":
                return "${"
            body = match.group(1)
            if body is None:
                self._problem(
                    mark, path, "unterminated ${ in this value; close it with } or write $${"
                )
                return token
            parsed = _VARIABLE.fullmatch(body)
            if parsed is None:
                self._problem(
                    mark,
                    path,
                    f"'${{{body}}}' is not a valid variable reference; use ${{NAME}} or "
                    f"${{NAME:-default}} (write $${{ for a literal ${{)",
                )
                return token
            name, default = parsed.group(1), parsed.group(2)
            value = self.env.get(name)
            if default is not None and not value:
                return default
            if value is None:
                self._problem(
                    mark,
                    path,
                    f"environment variable {name} is not set; set it (export {name}=...) or "
                    f"give a default: ${{{name}:-value}}",
                )
                return ""
            return value

        result = _INTERPOLATION.sub(replace, text)
        if result != text:
            self.interpolated.add(path)
        return result


def value_kind(value: Any) -> str:
    """How a YAML value reads to a person: 'a list', 'text', 'nothing'..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"  # dates and times
