"""Load ``edgeops.yaml``: YAML -> plain document with positions -> schema -> checks -> Config.

The only module that touches YAML and JSON Schema. Every problem is reported at once as
``file:line: dotted.path: what is wrong; how to fix`` in one :class:`ConfigError`.

Rules of the language enforced here (the schema describes the rest):

- One YAML document, a mapping at the top, UTF-8. Duplicate keys are errors. Aliases
  (``*name``) are refused, so a document cannot expand beyond its own size. Custom tags
  (``!foo``), NaN and infinities are refused.
- ``${VAR}`` in a string value is replaced by the environment variable (an error when unset);
  ``${VAR:-default}`` uses ``default`` when VAR is unset or empty; ``$${`` writes a literal
  ``${``. Interpolation happens before validation and applies to string values only: the result
  stays a string, so numbers and booleans cannot come from the environment.
- Relative paths are resolved against the config file's folder.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

import yaml
from jsonschema.exceptions import ValidationError
from yaml.error import Mark, MarkedYAMLError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from edgeops.config.checks import (
    ConfigPath,
    check_config,
    did_you_mean,
    dotted,
)
from edgeops.config.model import (
    BackendSpec,
    BudgetSpec,
    BundleTarget,
    Config,
    DatasetSpec,
    FirebaseTarget,
    GateSpec,
    GcsTarget,
    GoogleBackendSpec,
    LocalBackendSpec,
    ModelSpec,
    OnlineTarget,
    PublishSpec,
    PublishTarget,
    RegistryTarget,
    RolloutSpec,
    SourceSpec,
    SplitSpec,
    ThresholdRule,
    TrainingOptions,
)
from edgeops.config.schema import load_schema, validator
from edgeops.errors import ConfigError

MAX_BYTES = 1 << 20  # a config is a page or two; refuse anything absurd before parsing it
MAX_DEPTH = 32
MAX_PROBLEMS = 20
TARGET_ORDER = ("registry", "bundle", "firebase", "online", "gcs")

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Load, validate and default ``path``; raise :class:`ConfigError` listing every problem."""
    shown = _shown_name(path)
    text = _read_text(path, shown)
    root_node = _parse(text, shown)
    doc = _Document(env=os.environ if env is None else env)
    data = doc.build(root_node)
    if doc.problems:
        _fail(shown, doc, doc.problems)
    if data is None:  # only "---" or an empty value
        raise ConfigError(f"{shown}:1: the file is empty; start it with `version: 1`")
    if not isinstance(data, dict):
        _fail(
            shown,
            doc,
            [
                _Located(
                    doc.line_of(()),
                    (),
                    f"the top level must be a mapping of keys such as `version: 1`, "
                    f"not {_a(data)}; start the file with `version: 1`",
                )
            ],
        )
    problems = list(_schema_problems(data, doc))
    if not problems:
        root = path.resolve().parent
        problems = [
            _Located(doc.line_of(p.path), p.path, p.message)
            for p in check_config(data, root, doc.line_of)
        ]
    if problems:
        _fail(shown, doc, problems)
    return _build(path.resolve(), data, doc)


# --- reading and parsing -------------------------------------------------------------------


def _shown_name(path: Path) -> str:
    """The file name used in messages: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def _read_text(path: Path, shown: str) -> str:
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


def _parse(text: str, shown: str) -> Node:
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


# --- the plain document, with positions --------------------------------------------------------


@dataclass(frozen=True)
class _Located:
    line: int
    path: ConfigPath
    message: str

    def render(self, shown: str) -> str:
        return f"{shown}:{self.line}: {dotted(self.path)}: {self.message}"


_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


@dataclass
class _Document:
    """Builds plain Python data from YAML nodes, recording where each path was written."""

    env: Mapping[str, str]
    key_marks: dict[ConfigPath, Mark] = field(default_factory=dict)
    value_marks: dict[ConfigPath, Mark] = field(default_factory=dict)
    raw: dict[ConfigPath, str] = field(default_factory=dict)
    interpolated: set[ConfigPath] = field(default_factory=set)
    problems: list[_Located] = field(default_factory=list)
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
        self.problems.append(_Located(mark.line + 1, path, message))

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


def _fail(shown: str, doc: _Document, problems: list[_Located]) -> NoReturn:
    unique = sorted(set(problems), key=lambda p: (p.line, dotted(p.path), p.message))
    lines = [p.render(shown) for p in unique[:MAX_PROBLEMS]]
    if len(unique) > MAX_PROBLEMS:
        lines.append(f"... and {len(unique) - MAX_PROBLEMS} more problems")
    raise ConfigError("\n".join(lines))


# --- schema errors -> messages --------------------------------------------------------------


def _schema_problems(data: dict[str, Any], doc: _Document) -> Iterator[_Located]:
    for error in validator().iter_errors(data):
        path: ConfigPath = tuple(error.absolute_path)
        for sub_path, message in _explain(error, path, doc):
            # A missing key is reported on the line of the mapping that lacks it.
            line_path = path if error.validator == "required" else sub_path
            yield _Located(doc.line_of(line_path), sub_path, message)


_TYPE_NAMES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "null": "nothing",
}


def _a(value: Any) -> str:
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
    error: ValidationError, path: ConfigPath, doc: _Document
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


def _type_message(error: ValidationError, path: ConfigPath, doc: _Document) -> str:
    expected = error.validator_value
    names = [expected] if isinstance(expected, str) else list(expected)
    want = " or ".join(_TYPE_NAMES.get(n, n) for n in names)
    value = error.instance
    if value is None:
        return f"is empty, expected {want}; give it a value or remove the key"
    got = f"got {_a(value)} {_show(value)}"
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


# --- plain document -> typed Config --------------------------------------------------------------


def _build(path: Path, data: dict[str, Any], doc: _Document) -> Config:
    root = path.parent
    return Config(
        path=path,
        version=int(data["version"]),
        backend=_backend(data.get("backend"), root),
        datasets=tuple(
            _dataset(name, spec, root, doc.line_of(("datasets", name)))
            for name, spec in data.get("datasets", {}).items()
        ),
        models=tuple(
            _model(name, spec, doc.line_of(("models", name)))
            for name, spec in data.get("models", {}).items()
        ),
        publish=tuple(
            _publish(name, spec, root, doc.line_of(("publish", name)))
            for name, spec in data.get("publish", {}).items()
        ),
    )


def _abs(root: Path, value: str) -> Path:
    return Path(os.path.normpath(root / value))


def _pick(spec: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """The given keys that are present: absent keys take the dataclass defaults."""
    return {n: spec[n] for n in names if n in spec}


def _floats(spec: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Like :func:`_pick`, as floats (YAML ``1`` and ``1.0`` must give equal specs)."""
    return {n: float(spec[n]) for n in names if n in spec}


def _backend(spec: dict[str, Any] | None, root: Path) -> BackendSpec:
    if spec is not None and "google" in spec:
        g = spec["google"]
        options = _pick(g, "location", "prefix", "firebase_project")
        options.update(_floats(g, "price_per_node_hour"))
        return BackendSpec(
            kind="google",
            google=GoogleBackendSpec(project=g["project"], bucket=g["bucket"], **options),
        )
    local = (spec or {}).get("local", {})
    return BackendSpec(
        kind="local", local=LocalBackendSpec(path=_abs(root, local.get("path", ".edgeops")))
    )


_SOURCE_KINDS: tuple[Literal["zip", "folder", "csv", "images"], ...] = (
    "zip",
    "folder",
    "csv",
    "images",
)


def _dataset(name: str, spec: dict[str, Any], root: Path, line: int) -> DatasetSpec:
    source = spec["source"]
    kind = next(k for k in _SOURCE_KINDS if k in source)
    labels = source.get("labels_file")
    return DatasetSpec(
        name=name,
        source=SourceSpec(
            kind=kind,
            path=_abs(root, source[kind]),
            labels_file=_abs(root, labels) if labels is not None else None,
        ),
        split=SplitSpec(**{k: int(v) for k, v in spec.get("split", {}).items()}),
        line=line,
        **_pick(spec, "multi_label"),
    )


def _model(name: str, spec: dict[str, Any], line: int) -> ModelSpec:
    options = _pick(spec, "optimize_for")
    if "budget" in spec:
        budget = spec["budget"]
        options["budget"] = BudgetSpec(
            **_floats(budget, "node_hours"), **_pick(budget, "early_stopping")
        )
    if "threshold" in spec:
        rule = spec["threshold"]
        options["threshold"] = (
            ThresholdRule(max_f1=True)
            if "max_f1" in rule
            else ThresholdRule(**_floats(rule, "value", "target_precision", "target_recall"))
        )
    if "gate" in spec:
        options["gate"] = GateSpec(**_floats(spec["gate"], *spec["gate"]))
    if "training" in spec:
        training = spec["training"]
        training_options = _pick(training, "augment", "fine_tune")
        training_options.update(_floats(training, "label_smoothing"))
        if "seed" in training:
            training_options["seed"] = int(training["seed"])
        options["training"] = TrainingOptions(**training_options)
    if "keep" in spec:
        options["keep"] = int(spec["keep"])
    return ModelSpec(name=name, dataset=spec["dataset"], line=line, **options)


def _publish(model: str, spec: dict[str, Any], root: Path, line: int) -> PublishSpec:
    targets: list[tuple[str, PublishTarget]] = []
    for kind in TARGET_ORDER:
        if kind not in spec:
            continue
        fields = dict(spec[kind])
        if "tags" in fields:
            fields["tags"] = tuple(fields["tags"])
        if "version" in fields:
            fields["version"] = int(fields["version"])
        if "rollout" in fields:
            rollout = fields["rollout"]
            fields["rollout"] = RolloutSpec(
                candidate=rollout["candidate"], percent=float(rollout["percent"])
            )
        target: PublishTarget
        if kind == "registry":
            target = RegistryTarget(**fields)
        elif kind == "bundle":
            fields["path"] = _abs(root, fields["path"])
            target = BundleTarget(**fields)
        elif kind == "firebase":
            target = FirebaseTarget(**fields)
        elif kind == "online":
            target = OnlineTarget(**fields)
        else:
            target = GcsTarget(**fields)
        targets.append((kind, target))
    return PublishSpec(model=model, targets=tuple(targets), line=line)
