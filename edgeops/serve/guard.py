"""The guard in front of the routes: bearer token, body limit, request metrics.

Pure ASGI middleware, so it sees the raw byte stream: a body over the limit is refused from its
Content-Length before it is read, or as soon as the bytes streamed in pass the limit. Every
request is counted and timed under its route template (unknown paths share one label).
"""

from __future__ import annotations

import hmac
import time

from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeops.serve.errors import BodyTooLarge, error_response
from edgeops.serve.metrics import Metrics
from edgeops.serve.settings import ServeSettings, size_text

OPEN_PATHS = frozenset({"/healthz"})  # answered without the token (liveness probes)


class Guard:
    def __init__(
        self, app: ASGIApp, settings: ServeSettings, metrics: Metrics, routes: list[Route]
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.routes = routes
        self._token = settings.token.encode() if settings.token else None

    def _route(self, scope: Scope) -> str:
        for r in self.routes:
            match, _ = r.matches(scope)
            if match == Match.FULL:
                return r.path
        return "other"  # unknown paths share one label: bounded cardinality

    def _authorized(self, scope: Scope) -> bool:
        if self._token is None or scope["path"] in OPEN_PATHS:
            return True
        for key, value in scope["headers"]:
            if key == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    given.strip(), self._token
                )
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            early = self._refuse(scope)
            if early is not None:
                await early(scope, receive, send_status)
                return
            limit = self.settings.max_body_bytes
            seen = 0

            async def limited() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, limited, send_status)
        finally:
            self.metrics.observe(
                self._route(scope), scope["method"], status[0], time.perf_counter() - started
            )

    def _refuse(self, scope: Scope) -> Response | None:
        if not self._authorized(scope):
            return error_response(
                401,
                "missing or wrong bearer token: send `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": 'Bearer realm="edgeops"'},
            )
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return error_response(400, "Content-Length is not a number")
                if length > self.settings.max_body_bytes:
                    return error_response(
                        413,
                        f"request body is {size_text(length)}; the limit is "
                        f"{size_text(self.settings.max_body_bytes)} (edgeops serve --max-body-mb)",
                    )
        return None
