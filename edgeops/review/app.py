"""The review web app (Starlette): one page, its script and style, a JSON API, thumbnails.

Routes: ``GET /`` the page; ``GET /static/{review.js,review.css}``; ``GET /api/state``;
``POST /api/labels`` ``{"path", "labels", "before"}``; ``GET /api/suggestions`` the model's
predicted label per image and the likely mislabelled ones; ``GET /thumb/{sha256}`` a JPEG thumbnail.
Images are addressed by content hash only, never by a path; an image path in a label change
must be one of the dataset's images. Only loopback host names are served (no DNS rebinding)
and a change from a page of another origin is refused.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgeops.review.session import ChangeRefused, LabelChange, ReviewSession

LOOPBACK = ("127.0.0.1", "localhost")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
STATIC = {
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> bytes:
    return resources.files("edgeops.review").joinpath("static", name).read_bytes()


def create_app(session: ReviewSession) -> Starlette:
    page = _asset("index.html")
    assets = {name: _asset(name) for name in STATIC}

    def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=_NO_STORE)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return _error(404, "not found")
        return Response(assets[name], media_type=STATIC[name], headers=_NO_STORE)

    def state(request: Request) -> Response:
        session.refresh()
        return JSONResponse(session.state(), headers=_NO_STORE)

    async def labels(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin and urlsplit(origin).hostname not in LOOPBACK:
            return _error(403, "changes are accepted from the review page only")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "send JSON: {path, labels, before}")
        change = _parse_change(body)
        if change is None:
            return _error(400, "send JSON: {path: str, labels: [str], before: [str] | null}")
        from starlette.concurrency import run_in_threadpool

        try:
            await run_in_threadpool(session.apply, change)
        except ChangeRefused as e:
            extra = {"current": list(e.current)} if e.current is not None else {}
            return _error(e.status, str(e), state=session.state(), **extra)
        return JSONResponse({"ok": True, "state": session.state()}, headers=_NO_STORE)

    async def suggestions(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(session.suggestions), headers=_NO_STORE)

    def thumb(request: Request) -> Response:
        sha = request.path_params["sha"]
        if not SHA256_RE.fullmatch(sha):
            return _error(404, "images are addressed by their sha256")
        data = session.thumbnail(sha)
        if data is None:
            return _error(404, "no such image in this dataset")
        return Response(
            data,
            media_type="image/jpeg",
            headers={"cache-control": "private, max-age=86400, immutable"},
        )

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/state", state),
        Route("/api/labels", labels, methods=["POST"]),
        Route("/api/suggestions", suggestions),
        Route("/thumb/{sha}", thumb),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK))]
    return Starlette(routes=routes, middleware=middleware)


_NO_STORE = {"cache-control": "no-store"}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, **extra}, status_code=status)


def _parse_change(body: Any) -> LabelChange | None:
    if not isinstance(body, dict):
        return None
    path, labels, before = body.get("path"), body.get("labels"), body.get("before")
    if not isinstance(path, str) or not _str_list(labels):
        return None
    if before is None:
        return LabelChange(path, tuple(labels))
    if not _str_list(before):
        return None
    return LabelChange(path, tuple(labels), tuple(before))


def _str_list(v: Any) -> TypeGuard[list[str]]:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)
