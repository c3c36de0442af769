"""A fake GitHub REST API on 127.0.0.1 that records every request: just the issue-comment
endpoints `edgeops ci comment` uses, with real pagination (`Link` headers) and real errors."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

LIST = re.compile(r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")
ONE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    token: str = "ghs_fake-token-0123456789"
    repos: set[str] = field(default_factory=lambda: {"acme/app"})
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1000

    def add_comment(self, repo: str, number: int, body: str, user: str = "someone") -> int:
        self._next_id += 1
        self.comments.setdefault((repo, number), []).append(
            {
                "id": self._next_id,
                "body": body,
                "user": {"login": user},
                "html_url": f"https://github.test/{repo}/pull/{number}#issuecomment-{self._next_id}",
            }
        )
        return self._next_id

    def bodies(self, repo: str = "acme/app", number: int = 7) -> list[str]:
        return [c["body"] for c in self.comments.get((repo, number), [])]

    # --- the HTTP side ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], raw: bytes):  # noqa: ANN201
        parts = urlsplit(raw_path)
        body = json.loads(raw) if raw else None
        self.requests.append(Recorded(method, parts.path, parse_qs(parts.query), headers, body))
        if self.fail:
            return self.fail.pop(0)
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Bad credentials"}
        if m := LIST.match(parts.path):
            repo, number = m.group(1), int(m.group(2))
            if repo not in self.repos:
                return 404, {}, {"message": "Not Found"}
            if method == "GET":
                return self._page(repo, number, parse_qs(parts.query))
            if method == "POST":
                cid = self.add_comment(repo, number, body["body"], user="github-actions[bot]")
                return 201, {}, self.comments[(repo, number)][-1] | {"id": cid}
        if (m := ONE.match(parts.path)) and method == "PATCH":
            for (repo, _), items in self.comments.items():
                for c in items:
                    if repo == m.group(1) and c["id"] == int(m.group(2)):
                        c["body"] = body["body"]
                        return 200, {}, c
            return 404, {}, {"message": "Not Found"}
        return 404, {}, {"message": "Not Found"}

    def _page(self, repo: str, number: int, query: dict[str, list[str]]):  # noqa: ANN202
        items = self.comments.get((repo, number), [])
        per_page = min(100, int(query.get("per_page", ["30"])[0]))
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            base = f"{self.url}/repos/{repo}/issues/{number}/comments?per_page={per_page}"
            last = (len(items) + per_page - 1) // per_page
            headers["Link"] = (
                f'<{base}&page={page + 1}>; rel="next", <{base}&page={last}>; rel="last"'
            )

        return 200, headers, chunk


def serve(fake: FakeGitHub) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, raw)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _do  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    return server, thread
