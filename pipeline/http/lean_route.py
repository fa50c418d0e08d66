"""A route for the hot path: documented by FastAPI like any other, served without its per-request machinery.

FastAPI solves an endpoint's dependencies and validates its parameters on every request; for a webhook
under load that was about a fifth of the process's CPU (py-spy, bench/ingest_bench.py), for what a
dictionary lookup does. An endpoint on this route takes its path parameters (strings, unvalidated) and
the request, and finds the services on the app itself.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            return await endpoint(**request.path_params, request=request)

        return handle
