"""Load ``edgeops.yaml``: YAML -> plain document with positions -> schema -> checks -> Config.

The only entry to the config (and the only code, with the modules it calls, that touches YAML
and JSON Schema). Each step has its module:

- ``document``: read and parse the file, ``${}`` interpolation, where each path was written;
- ``schema_errors``: validate against the schema, errors -> messages;
- ``checks``: cross-field rules the schema cannot express;
- ``build``: the valid document -> typed, defaulted :class:`Config`.

Every problem is reported at once as ``file:line: dotted.path: what is wrong; how to fix`` in
one :class:`ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from edgeops.config.build import build_config
from edgeops.config.checks import check_config, dotted
from edgeops.config.document import Document, Located, parse, read_text, shown_name, value_kind
from edgeops.config.model import Config
from edgeops.config.schema_errors import schema_problems
from edgeops.errors import ConfigError

MAX_PROBLEMS = 20


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Load, validate and default ``path``; raise :class:`ConfigError` listing every problem."""
    shown = shown_name(path)
    root_node = parse(read_text(path, shown), shown)
    env = os.environ if env is None else env
    doc = Document(env=env)
    data = doc.build(root_node)
    if doc.problems:
        _fail(shown, doc.problems)
    if data is None:  # only "---" or an empty value
        raise ConfigError(f"{shown}:1: the file is empty; start it with `version: 1`")
    if not isinstance(data, dict):
        _fail(
            shown,
            [
                Located(
                    doc.line_of(()),
                    (),
                    f"the top level must be a mapping of keys such as `version: 1`, "
                    f"not {value_kind(data)}; start the file with `version: 1`",
                )
            ],
        )
    problems = list(schema_problems(data, doc))
    if not problems:
        root = path.resolve().parent
        problems = [
            Located(doc.line_of(p.path), p.path, p.message)
            for p in check_config(data, root, doc.line_of, env)
        ]
    if problems:
        _fail(shown, problems)
    return build_config(path.resolve(), data, doc.line_of, env)


def _fail(shown: str, problems: list[Located]) -> NoReturn:
    unique = sorted(set(problems), key=lambda p: (p.line, dotted(p.path), p.message))
    lines = [p.render(shown) for p in unique[:MAX_PROBLEMS]]
    if len(unique) > MAX_PROBLEMS:
        lines.append(f"... and {len(unique) - MAX_PROBLEMS} more problems")
    raise ConfigError("\n".join(lines))
