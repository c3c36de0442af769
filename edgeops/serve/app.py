"""The HTTP API (Starlette on uvicorn) over the published models: the pieces put together.

- ``settings``: what the server runs with (checked against the command line and the config);
- ``guard``: bearer token, body limit and metrics, in front of everything (pure ASGI);
- ``routes``: the endpoints; ``requests`` parses a predict body, ``predict`` runs it;
- ``errors``: every error is JSON ``{"error": {"code": 400, "status": "INVALID_ARGUMENT",
  "message": ...}}``;
- ``models``: the catalog of published models, loaded once and reloaded on a new publish.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from edgeops.serve.errors import EXCEPTION_HANDLERS
from edgeops.serve.guard import Guard
from edgeops.serve.metrics import Metrics
from edgeops.serve.models import ModelCatalog, ModelNotFound, ModelUnavailable
from edgeops.serve.routes import Routes
from edgeops.serve.settings import ServeSettings
from edgeops.serve.settings import settings_for as settings_for  # for `edgeops serve`

log = logging.getLogger("edgeops.serve")


def create_app(settings: ServeSettings, catalog: ModelCatalog | None = None) -> Any:
    catalog = catalog or ModelCatalog(
        settings.registry_db, interpreters=settings.interpreters, threads=settings.threads
    )
    metrics = Metrics()

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
        endpoints.close()
        catalog.close()

    endpoints = Routes(settings, catalog, metrics)
    routes = endpoints.routes()
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    return Guard(app, settings, metrics, routes)


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
