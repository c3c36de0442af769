"""Serve the review app on 127.0.0.1 (a free port by default) and open a browser when one can
be shown. ``running`` starts it in a thread for tests and embedders."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from edgeops.addresses import Address, dataset_address, model_address
from edgeops.config.model import Config, DatasetSpec
from edgeops.errors import EdgeopsError

HOST = "127.0.0.1"


def find_dataset(config: Config, address: str) -> DatasetSpec:
    """``dataset.NAME`` (or ``NAME``) of ``config``; a clear EdgeopsError otherwise."""
    try:
        parsed = Address.parse(address if "." in address else dataset_address(address))
    except ValueError:
        parsed = None
    if parsed is None or parsed.kind != "dataset":
        raise EdgeopsError(
            f"{address}: review works on datasets; give an address like dataset.NAME"
        )
    name = parsed.name
    names = [d.name for d in config.datasets]
    if name not in names:
        have = ", ".join(dataset_address(n) for n in names) or "none"
        raise EdgeopsError(f"{config.path.name}: no dataset '{name}' (datasets: {have})")
    return config.dataset(name)


def open_session(config: Config, address: str) -> Any:
    from edgeops.backends import get_backend
    from edgeops.resolve import cache_path
    from edgeops.review.session import ReviewSession

    spec = find_dataset(config, address)
    models = tuple(model_address(m.name) for m in config.models if m.dataset == spec.name)
    return ReviewSession(
        spec,
        root=config.root,
        cache_path=cache_path(config),
        backend=get_backend(config),
        models=models,
    )


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        sock.close()
        raise EdgeopsError(
            f"cannot listen on {HOST}:{port} ({e.strerror}); pick another --port or 0 for any"
        ) from None
    sock.listen(128)  # browsers may connect before uvicorn starts: they wait in the backlog
    return sock


def can_open_browser() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _server(app: Any) -> Any:
    import uvicorn

    return uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    )


def serve(
    config: Config,
    address: str,
    *,
    port: int,
    open_browser: bool,
    on_ready: Callable[[str, Any], None],
) -> None:
    """Run until interrupted. ``on_ready(url, session)`` is called once the port is bound."""
    from edgeops.review.app import create_app

    session = open_session(config, address)
    sock = bind(port)
    url = f"http://{HOST}:{sock.getsockname()[1]}/"
    on_ready(url, session)
    if open_browser and can_open_browser():
        import webbrowser

        webbrowser.open(url)
    try:
        _server(create_app(session)).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a review ends; uvicorn re-raises it after shutting down
    finally:
        sock.close()


@contextmanager
def running(session: Any, port: int = 0) -> Iterator[str]:
    """The app served in a background thread; yields its URL, stops on exit."""
    from edgeops.review.app import create_app

    sock = bind(port)
    server = _server(create_app(session))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the review server did not start")
        yield f"http://{HOST}:{sock.getsockname()[1]}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
