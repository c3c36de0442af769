"""The API's errors: one JSON shape for all of them, and the handlers that give it.

``{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}``: an :class:`ApiError`
raised anywhere in a request, Starlette's own HTTP errors (unknown route, wrong method) and bugs
(a 500 that points at the server log, where the traceback goes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgeops.serve.settings import size_text

log = logging.getLogger("edgeops.serve")

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {size_text(limit)}")


def error_response(
    code: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "status": STATUS.get(code, "ERROR"), "message": message}}
    return JSONResponse(body, status_code=code, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = exc.status_code
    message = exc.detail if code != 404 else f"no route {request.method} {request.url.path}"
    return error_response(code, str(message), headers=exc.headers)


async def _internal(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error (a bug in edgeops serve); see the server log")


EXCEPTION_HANDLERS = {ApiError: _api_error, HTTPException: _http_error, Exception: _internal}
