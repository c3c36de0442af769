"""A fake Firebase Remote Config REST API (v1) on 127.0.0.1: one template per project, ETag
concurrency like the real service (PUT needs a matching If-Match, else 412), an OAuth bearer
token on every request (the token the Vertex fake's token endpoint hands out), and the template
checks the real service makes, each beside the page it rests on:

- RemoteConfig / RemoteConfigParameter / RemoteConfigCondition, REST reference
  (https://firebase.google.com/docs/reference/remote-config/rest/v1/RemoteConfig): conditional
  values name declared conditions; condition names are unique and non-empty; parameter keys start
  with a letter or '_' and hold letters, digits and '_'; ``valueType`` is STRING, BOOLEAN,
  NUMBER or JSON, and a JSON parameter's values parse as JSON; ``tagColor`` is one of the
  listed colours.
- Condition expressions, https://firebase.google.com/docs/remote-config/condition-reference:
  this fake knows the app-instance percentile only, ``percent`` or ``percent('seed')`` compared
  with ``<=``, ``>`` or ``between A and B`` (0 to 100), combined with ``&&``, ``||``, ``!`` and
  parentheses, and ``true``/``false``. Anything else is refused (the real service knows more
  elements, but refuses what it cannot parse). ``value_for`` evaluates a template for one app
  instance, hashing the seeded instance id the way firebase-admin's server-side evaluator does
  (``remote_config.py``: SHA-256 of ``"<seed>.<id>"``, modulo 100,000,000 micro-percent; ``between``
  excludes its lower bound).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = re.compile(r"^/v1/projects/([^/]+)/remoteConfig$")
TOKEN = "fake-token"  # what fakes.vertex's /token endpoint issues
VALUE_TYPES = {"STRING", "BOOLEAN", "NUMBER", "JSON", "PARAMETER_VALUE_TYPE_UNSPECIFIED"}
TAG_COLORS = {
    "BLUE",
    "BROWN",
    "CYAN",
    "DEEP_ORANGE",
    "GREEN",
    "INDIGO",
    "LIME",
    "ORANGE",
    "PINK",
    "PURPLE",
    "TEAL",
    "CONDITION_DISPLAY_COLOR_UNSPECIFIED",
}


class FakeRemoteConfig:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.templates: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.puts: list[tuple[str, str]] = []  # (project, If-Match sent)
        self.authorizations: list[str] = []  # the Authorization header of every request
        self.interfere = 0  # the next N PUTs find the template changed by "someone else"
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeRemoteConfig:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def etag(self, project: str) -> str:
        return f"etag-{project}-{self.versions.get(project, 1)}"

    def template(self, project: str) -> dict[str, Any]:
        return self.templates.setdefault(project, {"conditions": [], "parameters": {}})

    def someone_else_edits(self, project: str) -> None:
        """A change made outside edgeops (the console): a new version, a new ETag."""
        with self._lock:
            t = self.template(project)
            t["parameters"]["console_flag"] = {"defaultValue": {"value": "on"}}
            self.versions[project] = self.versions.get(project, 1) + 1

    def value_for(self, project: str, parameter: str, instance_id: str) -> str:
        """The value app instance ``instance_id`` gets for ``parameter``: the first condition
        (in the template's order) that is true for it, else the default."""
        t = self.templates[project]
        p = t["parameters"][parameter]
        for c in t.get("conditions", []):
            if c["name"] in p.get("conditionalValues", {}) and evaluate(
                c["expression"], instance_id
            ):
                return str(p["conditionalValues"][c["name"]]["value"])
        return str(p["defaultValue"]["value"])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any], etag: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, code: int, status: str, message: str) -> None:
                self._send(code, {"error": {"code": code, "status": status, "message": message}})

            def _authorized(self) -> bool:
                sent = self.headers.get("Authorization", "")
                with fake._lock:
                    fake.authorizations.append(sent)
                if sent != f"Bearer {fake.token}":
                    self._error(401, "UNAUTHENTICATED", "Request had invalid authentication")
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                m = PATH.match(self.path)
                if not m:
                    return self._error(404, "NOT_FOUND", self.path)
                if not self._authorized():
                    return None
                project = m.group(1)
                with fake._lock:
                    version = {"versionNumber": str(fake.versions.get(project, 1))}
                    body = {**fake.template(project), "version": version}
                    self._send(200, body, fake.etag(project))

            def do_PUT(self) -> None:  # noqa: N802
                m = PATH.match(self.path)
                if not m:
                    return self._error(404, "NOT_FOUND", self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self._authorized():
                    return None
                project = m.group(1)
                if_match = self.headers.get("If-Match")
                with fake._lock:
                    fake.puts.append((project, str(if_match)))
                    if not if_match:
                        return self._error(400, "INVALID_ARGUMENT", "If-Match is required")
                if fake.interfere:
                    fake.interfere -= 1
                    fake.someone_else_edits(project)
                with fake._lock:
                    if if_match not in ("*", fake.etag(project)):
                        return self._error(412, "FAILED_PRECONDITION", "ETag mismatch")
                    problem = _invalid(body)
                    if problem:
                        return self._error(400, "INVALID_ARGUMENT", problem)
                    fake.templates[project] = {
                        k: v for k, v in body.items() if k in ("conditions", "parameters")
                    }
                    fake.versions[project] = fake.versions.get(project, 1) + 1
                    version = {"versionNumber": str(fake.versions[project])}
                    self._send(200, {**fake.templates[project], "version": version},
                               fake.etag(project))  # fmt: skip
                return None

        return Handler


def _invalid(t: dict[str, Any]) -> str:
    names = [c.get("name") for c in t.get("conditions", [])]
    if len(names) != len(set(names)):
        return "condition names must be unique"
    for c in t.get("conditions", []):
        if not c.get("name") or not c.get("expression"):
            return "a condition needs a name and an expression"
        if c.get("tagColor", "BLUE") not in TAG_COLORS:
            return f"condition {c['name']}: unknown tagColor {c['tagColor']}"
        try:
            parse(c["expression"])
        except ValueError as e:
            return f"[VALIDATION_ERROR]: condition {c['name']}: {e}"
    for key, p in t.get("parameters", {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            return f"invalid parameter key {key}"
        value_type = p.get("valueType", "STRING")
        if value_type not in VALUE_TYPES:
            return f"parameter {key}: unknown valueType {value_type}"
        for cond in p.get("conditionalValues", {}):
            if cond not in names:
                return f"parameter {key} names an undeclared condition {cond}"
        if value_type == "JSON":
            for v in [p.get("defaultValue", {}), *p.get("conditionalValues", {}).values()]:
                try:
                    json.loads(v.get("value", ""))
                except ValueError:
                    return f"parameter {key}: a JSON parameter's value must be JSON"
    return ""


# --- condition expressions: the percent element -------------------------------------------------

TOKENS = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op><=|>|&&|\|\||!|\(|\))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKENS.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot parse {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse(expression: str) -> Any:
    """The expression as a tree of tuples; ValueError when it is not in the grammar above."""
    tokens = _tokens(expression)
    tree, rest = _or(tokens)
    if rest:
        raise ValueError(f"unexpected {rest[0][1]!r}")
    return tree


def _or(ts: list[tuple[str, str]]) -> tuple[Any, list[tuple[str, str]]]:
    left, ts = _and(ts)
    while ts and ts[0] == ("op", "||"):
        right, ts = _and(ts[1:])
        left = ("or", left, right)
    return left, ts


def _and(ts: list[tuple[str, str]]) -> tuple[Any, list[tuple[str, str]]]:
    left, ts = _unary(ts)
    while ts and ts[0] == ("op", "&&"):
        right, ts = _unary(ts[1:])
        left = ("and", left, right)
    return left, ts


def _number(ts: list[tuple[str, str]]) -> tuple[float, list[tuple[str, str]]]:
    if not ts or ts[0][0] != "num":
        raise ValueError("percent compares with a number")
    n = float(ts[0][1])
    if not 0 <= n <= 100:
        raise ValueError(f"percent {ts[0][1]} is outside 0..100")
    return n, ts[1:]


def _unary(ts: list[tuple[str, str]]) -> tuple[Any, list[tuple[str, str]]]:
    if not ts:
        raise ValueError("the expression ends too early")
    kind, text = ts[0]
    if (kind, text) == ("op", "!"):
        inner, ts = _unary(ts[1:])
        return ("not", inner), ts
    if (kind, text) == ("op", "("):
        inner, ts = _or(ts[1:])
        if not ts or ts[0] != ("op", ")"):
            raise ValueError("a '(' is not closed")
        return inner, ts[1:]
    if kind == "word" and text in ("true", "false"):
        return ("const", text == "true"), ts[1:]
    if kind == "word" and text == "percent":
        ts, seed = ts[1:], ""
        if ts and ts[0] == ("op", "("):
            if len(ts) < 3 or ts[1][0] != "str" or ts[2] != ("op", ")"):
                raise ValueError("percent takes one quoted seed: percent('seed')")
            seed, ts = ts[1][1][1:-1], ts[3:]
        if ts and ts[0][0] == "op" and ts[0][1] in ("<=", ">"):
            n, rest = _number(ts[1:])
            return ("percent", seed, ts[0][1], n, None), rest
        if ts and ts[0] == ("word", "between"):
            low, ts = _number(ts[1:])
            if not ts or ts[0] != ("word", "and"):
                raise ValueError("percent between A and B")
            high, ts = _number(ts[1:])
            return ("percent", seed, "between", low, high), ts
        raise ValueError("percent is compared with <=, > or between")
    raise ValueError(f"{text!r} is not a condition this fake knows")


def micro_percentile(seed: str, instance_id: str) -> int:
    """An app instance's percentile in micro-percent (0 .. 99,999,999), as firebase-admin
    evaluates percent conditions."""
    text = f"{seed}.{instance_id}" if seed else instance_id
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % (100 * 1_000_000)


def evaluate(expression: str, instance_id: str) -> bool:
    def run(node: Any) -> bool:
        op = node[0]
        if op == "const":
            return bool(node[1])
        if op == "not":
            return not run(node[1])
        if op in ("and", "or"):
            a, b = run(node[1]), run(node[2])
            return (a and b) if op == "and" else (a or b)
        _, seed, cmp, n, high = node
        x = micro_percentile(seed, instance_id)
        if cmp == "<=":
            return x <= round(n * 1_000_000)
        if cmp == ">":
            return x > round(n * 1_000_000)
        return round(n * 1_000_000) < x <= round(high * 1_000_000)

    return run(parse(expression))
