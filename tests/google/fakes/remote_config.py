"""A fake Firebase Remote Config REST API (v1) on 127.0.0.1: one template per project, ETag
concurrency like the real service (PUT needs a matching If-Match, else 412), and the template
checks the real service makes (conditional values name declared conditions; unique names)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = re.compile(r"^/v1/projects/([^/]+)/remoteConfig$")


class FakeRemoteConfig:
    def __init__(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.puts: list[tuple[str, str]] = []  # (project, If-Match sent)
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

            def do_GET(self) -> None:  # noqa: N802
                m = PATH.match(self.path)
                if not m:
                    return self._error(404, "NOT_FOUND", self.path)
                project = m.group(1)
                with fake._lock:
                    version = {"versionNumber": str(fake.versions.get(project, 1))}
                    body = {**fake.template(project), "version": version}
                    self._send(200, body, fake.etag(project))

            def do_PUT(self) -> None:  # noqa: N802
                m = PATH.match(self.path)
                if not m:
                    return self._error(404, "NOT_FOUND", self.path)
                project = m.group(1)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
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

        return Handler


def _invalid(t: dict[str, Any]) -> str:
    names = [c.get("name") for c in t.get("conditions", [])]
    if len(names) != len(set(names)):
        return "condition names must be unique"
    for c in t.get("conditions", []):
        if not c.get("name") or not c.get("expression"):
            return "a condition needs a name and an expression"
    for key, p in t.get("parameters", {}).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            return f"invalid parameter key {key}"
        for cond in p.get("conditionalValues", {}):
            if cond not in names:
                return f"parameter {key} names an undeclared condition {cond}"
    return ""
