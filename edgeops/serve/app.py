"""The HTTP API (Starlette on uvicorn) over the published models.

Routes::

    POST /v1/models/{name}:predict    JSON {"instances": [{"image": {"b64": ...}}], "parameters":
                                      {"score_threshold": 0.3, "max_predictions": 5}} or multipart
                                      (``files=`` parts, parameters as form fields)
    GET  /v1/models                   what is served: name, version, threshold, labels, sha256
    GET  /v1/models/{name}            one of them
    GET  /v1/models/{name}/download   the published .tflite; ETag "<sha256>", If-None-Match -> 304

A registry entry with a staged rollout serves two versions under one name: a client that sends an
id (``X-Client-Id`` header, ``client_id`` query parameter, or ``client_id`` in a JSON body) is
assigned one side by a hash of the entry name and its id, so it stays there; without an id it
gets the stable version. Responses say which (``rolloutArm``, ``modelVersion`` and the headers
``X-Edgeops-Model``, ``X-Edgeops-Model-Version``, ``X-Edgeops-Rollout-Arm``).
    GET  /healthz                     liveness (never needs the token)
    GET  /metrics                     Prometheus text

Every error is JSON ``{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}``.
The guard middleware (pure ASGI, so it sees the raw byte stream) checks the bearer token, refuses
bodies over the limit from their Content-Length or while they stream, and records metrics.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgeops.config.model import Config
from edgeops.errors import EdgeopsError
from edgeops.serve.metrics import Metrics
from edgeops.serve.models import (
    MAX_CLIENT_ID,
    Arm,
    BadImage,
    LoadedModel,
    ModelCatalog,
    ModelNotFound,
    ModelUnavailable,
    Published,
    decode_image,
)

log = logging.getLogger("edgeops.serve")

MB = 1 << 20
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
# JSON bodies: also under the types `curl -d` and browsers' fetch send by default
JSON_TYPES = frozenset({"", "application/json", "text/plain", "application/x-www-form-urlencoded"})
OPEN_PATHS = frozenset({"/healthz"})  # answered without the token (liveness probes)


@dataclass(frozen=True)
class ServeSettings:
    registry_db: Path  # the local backend's registry.sqlite
    token: str | None = None  # required as `Authorization: Bearer <token>` when set
    max_body_bytes: int = 20 * MB
    max_image_bytes: int = 10 * MB  # one image, after base64 decoding
    max_instances: int = 32  # images per request
    max_predictions: int = 10  # labels per image when the request does not say
    interpreters: int = 2  # LiteRT interpreters per model: concurrent inferences per model
    threads: int = 1  # CPU threads per interpreter


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {_size(limit)}")


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "status": STATUS.get(code, "ERROR"), "message": message}}


def _error(code: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=code, headers=headers)


def _size(n: int) -> str:
    return f"{n / MB:g} MB" if n >= MB else f"{n} bytes"


# --- the guard: token, body limit, metrics ------------------------------------------------------


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
            return _error(
                401,
                "missing or wrong bearer token: send `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": 'Bearer realm="edgeops"'},
            )
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return _error(400, "Content-Length is not a number")
                if length > self.settings.max_body_bytes:
                    return _error(
                        413,
                        f"request body is {_size(length)}; the limit is "
                        f"{_size(self.settings.max_body_bytes)} (edgeops serve --max-body-mb)",
                    )
        return None


# --- request parsing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictRequest:
    images: list[tuple[str, bytes]]  # (where it came from, for messages; bytes)
    keys: list[Any]  # per image: the instance's "key" if it sent one
    score_threshold: float | None
    max_predictions: int | None
    client_id: str | None = None  # from the body ("client_id"); the header/query win


def client_id_of(request: Request, body_value: Any = None) -> str | None:
    """The caller's client id, for staged rollouts: the ``X-Client-Id`` header, else the
    ``client_id`` query parameter, else the body's ``client_id``. None when not given."""
    for where, value in (
        ("X-Client-Id header", request.headers.get("x-client-id")),
        ("client_id query parameter", request.query_params.get("client_id")),
        ("client_id", body_value),
    ):
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ApiError(400, f"{where} must be text, not {type(value).__name__}")
        if len(value) > MAX_CLIENT_ID:
            raise ApiError(400, f"{where} is {len(value)} characters; at most {MAX_CLIENT_ID}")
        return value
    return None


async def parse_predict(request: Request, settings: ServeSettings) -> PredictRequest:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        return await _parse_multipart(request, settings)
    if ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise ApiError(
            415,
            f"Content-Type {ctype} is not accepted; send application/json "
            '({"instances": [{"image": {"b64": "..."}}]}) or multipart/form-data (files=...)',
        )
    body = await request.body()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not valid JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "the body is JSON nested too deeply") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise ApiError(
            400, 'the body must be a JSON object with "instances": [{"image": {"b64": "..."}}]'
        )
    instances = payload["instances"]
    _check_count(len(instances), settings)
    images, keys = [], []
    for i, inst in enumerate(instances):
        where = f"instances[{i}]"
        b64 = _instance_b64(inst, where)
        try:
            data = base64.b64decode("".join(b64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, f"{where}.image.b64 is not valid base64") from None
        images.append((where, data))
        keys.append(inst.get("key"))
    params = payload.get("parameters") or {}
    if not isinstance(params, dict):
        raise ApiError(400, '"parameters" must be an object')
    return PredictRequest(
        images=images,
        keys=keys,
        score_threshold=_threshold(_param(params, "score_threshold", "confidenceThreshold")),
        max_predictions=_max_predictions(_param(params, "max_predictions", "maxPredictions")),
        client_id=_param({**params, **payload}, "client_id"),
    )


def _instance_b64(inst: Any, where: str) -> str:
    """AutoML shapes: {"image": {"b64": ...}}, {"image_bytes": {"b64": ...}}, {"content": ...}."""
    if isinstance(inst, dict):
        for key in ("image", "image_bytes"):
            if isinstance(inst.get(key), dict) and isinstance(inst[key].get("b64"), str):
                return str(inst[key]["b64"])
        if isinstance(inst.get("content"), str):
            return str(inst["content"])
    raise ApiError(400, f'{where} must be {{"image": {{"b64": "<base64 image bytes>"}}}}')


def _param(params: dict[str, Any], *names: str) -> Any:
    return next((params[n] for n in names if n in params), None)


def _threshold(value: Any) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        t = float(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"score_threshold must be a number in [0, 1], not {value!r}") from None
    if not 0.0 <= t <= 1.0:
        raise ApiError(400, f"score_threshold must be in [0, 1], not {t:g}")
    return t


def _max_predictions(value: Any) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        n = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"max_predictions must be a whole number, not {value!r}") from None
    if n < 1:
        raise ApiError(400, f"max_predictions must be at least 1, not {n}")
    return n


def _check_count(n: int, settings: ServeSettings) -> None:
    if n == 0:
        raise ApiError(400, "no images: send at least one instance (or file)")
    if n > settings.max_instances:
        raise ApiError(400, f"{n} images in one request; at most {settings.max_instances}")


async def _parse_multipart(request: Request, settings: ServeSettings) -> PredictRequest:
    form = await request.form(max_files=settings.max_instances + 1, max_fields=16)
    try:
        images = []
        params: dict[str, Any] = {}
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                images.append((f"file '{value.filename or field}'", await value.read()))
            else:
                params[field] = value
        _check_count(len(images), settings)
        return PredictRequest(
            images=images,
            keys=[None] * len(images),
            score_threshold=_threshold(_param(params, "score_threshold", "confidenceThreshold")),
            max_predictions=_max_predictions(_param(params, "max_predictions", "maxPredictions")),
            client_id=params.get("client_id"),
        )
    finally:
        await form.close()


# --- prediction ---------------------------------------------------------------------------------


def classify(
    model: LoadedModel, req: PredictRequest, settings: ServeSettings
) -> list[dict[str, Any]]:
    """Decode, resize and run every image (in a worker thread: this blocks)."""
    p = model.published
    threshold = p.threshold if req.score_threshold is None else req.score_threshold
    limit = req.max_predictions or settings.max_predictions
    out = []
    for (where, data), key in zip(req.images, req.keys, strict=True):
        if len(data) > settings.max_image_bytes:
            raise ApiError(
                413,
                f"{where}: image is {_size(len(data))}; at most {_size(settings.max_image_bytes)}",
            )
        try:
            pixels = decode_image(data, model.input_size)
        except BadImage as e:
            raise ApiError(400, f"{where}: {e}") from None
        scores = model.predict(pixels)
        names = [p.labels[i] if i < len(p.labels) else str(i) for i in range(len(scores))]
        order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= threshold]
        order = order[:limit]
        pred: dict[str, Any] = {
            "displayNames": [names[i] for i in order],
            "confidences": [round(float(scores[i]), 6) for i in order],
            "ids": order,
        }
        if key is not None:
            pred["key"] = key
        out.append(pred)
    return out


# --- the app ------------------------------------------------------------------------------------


def create_app(settings: ServeSettings, catalog: ModelCatalog | None = None) -> Any:
    catalog = catalog or ModelCatalog(
        settings.registry_db, interpreters=settings.interpreters, threads=settings.threads
    )
    metrics = Metrics()

    def describe(p: Published, loaded: LoadedModel | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": p.name,
            "source": p.source,
            "model": p.model,
            "version": p.version,
            "threshold": p.threshold,
            "labels": list(p.labels),
            "sha256": p.sha256,
            "download": f"/v1/models/{p.name}/download",
        }
        if loaded is not None:
            d["size"] = len(loaded.data)
            d["input_size"] = list(loaded.input_size)
        if p.rollout is not None:
            c = p.rollout.candidate
            d["rollout"] = {
                "percent": p.rollout.percent,
                "candidate": {"model": c.model, "version": c.version, "sha256": c.sha256},
                "clients": "send X-Client-Id (or client_id) to be assigned a side",
            }
        return d

    def not_found(name: str) -> ApiError:
        served = ", ".join(catalog.published()) or "none yet: run `edgeops apply`"
        return ApiError(404, f"no published model named '{name}' (served: {served})")

    async def entry(name: str) -> Published:
        try:
            return await run_in_threadpool(catalog.entry, name)
        except ModelNotFound:
            raise not_found(name) from None

    async def load(name: str, arm: Arm = "stable") -> LoadedModel:
        try:
            return await run_in_threadpool(catalog.get, name, arm)
        except ModelNotFound:
            raise not_found(name) from None
        except ModelUnavailable as e:
            raise ApiError(503, str(e)) from None

    async def load_for(name: str, client_id: str | None) -> tuple[LoadedModel, Arm]:
        """The side of ``name`` this client is assigned to, loaded; counted in /metrics."""
        p = await entry(name)
        arm: Arm = p.rollout.arm_for(name, client_id) if p.rollout is not None else "stable"
        model = await load(name, arm)
        if model.published != p.arm(arm):  # rolled back between the two looks: stable
            arm = "stable"
        metrics.count_arm(name, arm)
        return model, arm

    def served_headers(model: LoadedModel, arm: Arm) -> dict[str, str]:
        p = model.published
        headers = {
            "X-Edgeops-Model": p.model,
            "X-Edgeops-Model-Version": str(p.version),
            "X-Edgeops-Rollout-Arm": arm,
        }
        if catalog.published().get(p.name, p).rollout is not None:
            headers["Vary"] = "X-Client-Id"  # the answer depends on who asks
        return headers

    async def predict(request: Request) -> Response:
        name = request.path_params["name"]
        await entry(name)  # an unknown model is a 404 whatever the body
        req = await parse_predict(request, settings)
        model, arm = await load_for(name, client_id_of(request, req.client_id))
        predictions = await run_in_threadpool(classify, model, req, settings)
        metrics.count_predictions(name, len(predictions))
        p = model.published
        return JSONResponse(
            {
                "predictions": predictions,
                "deployedModelId": p.name,
                "model": p.model,
                "modelVersion": p.version,
                "modelVersionId": str(p.version),
                "rolloutArm": arm,
                "sha256": p.sha256,
            },
            headers=served_headers(model, arm),
        )

    async def list_models(request: Request) -> Response:
        return JSONResponse({"models": [describe(p) for p in catalog.published().values()]})

    async def get_model(request: Request) -> Response:
        if request.path_params["name"].endswith(":predict"):
            raise ApiError(405, f"{request.url.path} takes POST, not {request.method}")
        model = await load(request.path_params["name"])
        return JSONResponse(describe(model.published, model))

    async def download(request: Request) -> Response:
        model, arm = await load_for(request.path_params["name"], client_id_of(request))
        p = model.published
        etag = f'"{p.sha256}"'
        headers = {
            "ETag": etag,  # of the file this client is served: per side during a rollout
            "Cache-Control": "no-cache",  # revalidate every time: cheap with If-None-Match
            "X-Model-Version": str(p.version),
            **served_headers(model, arm),
        }
        if _etag_matches(request.headers.get("if-none-match", ""), p.sha256):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{p.name}.tflite"'
        return Response(model.data, media_type="application/octet-stream", headers=headers)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": len(catalog.published())})

    async def metrics_text(request: Request) -> Response:
        gauges = {
            "edgeops_models_published": (
                "Models published for serving.",
                lambda: float(len(catalog.published())),
            ),
            "edgeops_models_loaded": (
                "Models loaded in LiteRT interpreters.",
                lambda: float(catalog.loaded_count()),
            ),
            "edgeops_model_loads_total": (
                "Model loads, including reloads after a new publish.",
                lambda: float(catalog.reloads),
            ),
        }
        return PlainTextResponse(
            metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _error(exc.code, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = exc.status_code
        message = exc.detail if code != 404 else f"no route {request.method} {request.url.path}"
        return _error(code, str(message), headers=exc.headers)

    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (a bug in edgeops serve); see the server log")

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # warm up, so the first request is not the slow one
        for name, p in catalog.published().items():
            for arm in ("stable", "candidate") if p.rollout is not None else ("stable",):
                try:
                    await run_in_threadpool(catalog.get, name, arm)
                except (ModelNotFound, ModelUnavailable) as e:
                    log.warning("not loaded: %s", e)
        yield
        catalog.close()

    routes = [
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{name}/download", download, methods=["GET"]),
        Route("/v1/models/{name}", get_model, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal},
        lifespan=lifespan,
    )
    app.state.catalog = catalog
    app.state.metrics = metrics
    return Guard(app, settings, metrics, routes)


def _etag_matches(header: str, sha256: str) -> bool:
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == sha256:
            return True
    return False


def serve(settings: ServeSettings, host: str, port: int, *, access_log: bool = True) -> None:
    """Runs until SIGINT/SIGTERM; uvicorn finishes in-flight requests before it exits."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
        server_header=False,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings_for(
    config: Config,
    *,
    host: str,
    token: str | None,
    insecure: bool,
    max_body_mb: float,
    interpreters: int,
) -> ServeSettings:
    """Checks the command line against the config; raises EdgeopsError for what to fix."""
    if config.backend.local is None:
        raise EdgeopsError(
            f"{config.path}: edgeops serve serves the local backend's published models; "
            f"this config uses the {config.backend.kind} backend"
        )
    if not is_loopback(host) and not token and not insecure:
        raise EdgeopsError(
            f"--host {host} makes the server reachable from other machines: set a token with "
            "EDGEOPS_SERVE_TOKEN (or --token) so clients must send `Authorization: Bearer "
            "<token>`, or pass --insecure to serve without one"
        )
    if max_body_mb <= 0:
        raise EdgeopsError(f"--max-body-mb must be more than 0, not {max_body_mb:g}")
    if interpreters < 1:
        raise EdgeopsError(f"--interpreters must be at least 1, not {interpreters}")
    max_body = int(max_body_mb * MB)
    return ServeSettings(
        registry_db=config.backend.local.path / "registry.sqlite",
        token=token or None,
        max_body_bytes=max_body,
        max_image_bytes=min(10 * MB, max_body),
        interpreters=interpreters,
    )
