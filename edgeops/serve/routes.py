"""The routes: what each endpoint answers, over the catalog of published models.

::

    POST /v1/models/{name}:predict    classify images (see ``requests`` for the body)
    GET  /v1/models                   what is served: name, version, threshold, labels, sha256
    GET  /v1/models/{name}            one of them
    GET  /v1/models/{name}/download   the published .tflite; ETag "<sha256>", If-None-Match -> 304
    GET  /healthz                     liveness (never needs the token)
    GET  /metrics                     Prometheus text

A registry entry with a staged rollout serves two versions under one name: a client that sends an
id (``X-Client-Id`` header, ``client_id`` query parameter, or ``client_id`` in a JSON body) is
assigned one side by a hash of the entry name and its id, so it stays there; without an id it
gets the stable version. Responses say which (``rolloutArm``, ``modelVersion`` and the headers
``X-Edgeops-Model``, ``X-Edgeops-Model-Version``, ``X-Edgeops-Rollout-Arm``).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edgeops.serve.errors import ApiError
from edgeops.serve.metrics import Metrics
from edgeops.serve.models import (
    Arm,
    LoadedModel,
    ModelCatalog,
    ModelNotFound,
    ModelUnavailable,
    Published,
)
from edgeops.serve.predict import classify
from edgeops.serve.requests import PredictRequest, client_id_of, parse_predict
from edgeops.serve.settings import ServeSettings


class Routes:
    def __init__(self, settings: ServeSettings, catalog: ModelCatalog, metrics: Metrics) -> None:
        self.settings = settings
        self.catalog = catalog
        self.metrics = metrics
        # Predictions run on one thread per interpreter, fed from one queue: a thread that
        # finishes takes the next request at once, and none waits for a free interpreter
        # (Starlette's pool would run every request in flight on its own thread, all but
        # ``--interpreters`` of them parked on the interpreters' queue, each hand-over two
        # more thread switches and GIL hand-overs).
        self.predictions = ThreadPoolExecutor(
            max_workers=catalog.interpreters, thread_name_prefix="edgeops-predict"
        )

    def close(self) -> None:
        self.predictions.shutdown(wait=True)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/models/{name}:predict", self.predict, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{name}/download", self.download, methods=["GET"]),
            Route("/v1/models/{name}", self.get_model, methods=["GET"]),
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]

    # --- the endpoints ---------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not self.catalog.known(name):  # a name served a moment ago skips this round trip
            await self._entry(name)  # an unknown model is a 404 whatever the body
        req = await parse_predict(request, self.settings)
        client_id = client_id_of(request, req.client_id)
        # one trip to a worker thread for the lookup, the decoding and the model
        model, arm, predictions, headers = await asyncio.get_running_loop().run_in_executor(
            self.predictions, self._predict, name, client_id, req
        )
        self.metrics.count_predictions(name, len(predictions))
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
            headers=headers,
        )

    def _predict(
        self, name: str, client_id: str | None, req: PredictRequest
    ) -> tuple[LoadedModel, Arm, list[dict[str, Any]], dict[str, str]]:
        """Blocking (in a worker thread): the client's side of ``name``, loaded, run on
        ``req``'s images, and the headers that say what served them."""
        model, arm = self._load_for_now(name, client_id)
        predictions = classify(model, req, self.settings)
        return model, arm, predictions, self._served_headers(model, arm)

    async def list_models(self, request: Request) -> Response:
        published = self.catalog.published().values()
        return JSONResponse({"models": [describe(p) for p in published]})

    async def get_model(self, request: Request) -> Response:
        if request.path_params["name"].endswith(":predict"):
            raise ApiError(405, f"{request.url.path} takes POST, not {request.method}")
        model = await self._load(request.path_params["name"])
        return JSONResponse(describe(model.published, model))

    async def download(self, request: Request) -> Response:
        model, arm = await self._load_for(request.path_params["name"], client_id_of(request))
        p = model.published
        etag = f'"{p.sha256}"'
        headers = {
            "ETag": etag,  # of the file this client is served: per side during a rollout
            "Cache-Control": "no-cache",  # revalidate every time: cheap with If-None-Match
            "X-Model-Version": str(p.version),
            **self._served_headers(model, arm),
        }
        if etag_matches(request.headers.get("if-none-match", ""), p.sha256):
            return Response(status_code=304, headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{p.name}.tflite"'
        return Response(model.data, media_type="application/octet-stream", headers=headers)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": len(self.catalog.published())})

    async def metrics_text(self, request: Request) -> Response:
        catalog = self.catalog
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
            self.metrics.render(gauges), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    # --- finding and loading what a request names ------------------------------------------

    def _not_found(self, name: str) -> ApiError:
        served = ", ".join(self.catalog.published()) or "none yet: run `edgeops apply`"
        return ApiError(404, f"no published model named '{name}' (served: {served})")

    async def _entry(self, name: str) -> Published:
        try:
            return await run_in_threadpool(self.catalog.entry, name)
        except ModelNotFound:
            raise self._not_found(name) from None

    async def _load(self, name: str, arm: Arm = "stable") -> LoadedModel:
        try:
            return await run_in_threadpool(self.catalog.get, name, arm)
        except ModelNotFound:
            raise self._not_found(name) from None
        except ModelUnavailable as e:
            raise ApiError(503, str(e)) from None

    async def _load_for(self, name: str, client_id: str | None) -> tuple[LoadedModel, Arm]:
        """The side of ``name`` this client is assigned to, loaded; counted in /metrics."""
        return await run_in_threadpool(self._load_for_now, name, client_id)

    def _load_for_now(self, name: str, client_id: str | None) -> tuple[LoadedModel, Arm]:
        """``_load_for``, blocking (in a worker thread)."""
        try:
            p = self.catalog.entry(name)
            arm: Arm = p.rollout.arm_for(name, client_id) if p.rollout is not None else "stable"
            model = self.catalog.get(name, arm, entry=p)
        except ModelNotFound:
            raise self._not_found(name) from None
        except ModelUnavailable as e:
            raise ApiError(503, str(e)) from None
        if model.published != p.arm(arm):  # rolled back between the two looks: stable
            arm = "stable"
        self.metrics.count_arm(name, arm)
        return model, arm

    def _served_headers(self, model: LoadedModel, arm: Arm) -> dict[str, str]:
        p = model.published
        headers = {
            "X-Edgeops-Model": p.model,
            "X-Edgeops-Model-Version": str(p.version),
            "X-Edgeops-Rollout-Arm": arm,
        }
        if (self.catalog.last_published(p.name) or p).rollout is not None:
            headers["Vary"] = "X-Client-Id"  # the answer depends on who asks
        return headers


def describe(p: Published, loaded: LoadedModel | None = None) -> dict[str, Any]:
    """A served model as /v1/models lists it."""
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


def etag_matches(header: str, sha256: str) -> bool:
    """Whether an If-None-Match header names the file with this sha256 (or ``*``)."""
    if not header:
        return False
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/").strip('"') == sha256:
            return True
    return False
