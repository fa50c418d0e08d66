"""An ASGI app served by uvicorn on a free loopback port in a thread of this process."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from tests.support.ports import free_port


@contextmanager
def serving(app):
    """Yields the base URL while the app answers there."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name="http")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
