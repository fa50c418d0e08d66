"""The HTTP app factories: the worker's (health, event ingestion, the Users API and page at /ui/, admin SQL;
OpenAPI at /docs) and the ingest process's (health and what needs no store: webhooks, the events API).

The worker serves everything (chDB allows one engine per process, so whatever reads the embedded store
asks the worker over HTTP); any number of ingest processes take the webhooks beside it. Every route
module has a router; this module includes them, mounts the page's static files, and answers the errors
they share.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from fastapi.responses import JSONResponse

from pipeline.http import (admin, bot_settings, events, exports, health, schedules, segments, stored_events, ui, users,
                           webhooks)
from pipeline.http.errors import ApiError
from pipeline.http.security_headers import SecurityHeaders, page_policy
from pipeline.kafka.publisher import PublishUnavailable
from pipeline.services import Services
from queries.columns import FilterError

ROUTERS = (health, events, stored_events, bot_settings, admin, webhooks, users, segments, exports, schedules, ui)
INGEST_ROUTERS = (health, events, webhooks)  # nothing here reads the store
STOP_SECONDS = 5.0
# uvicorn's, for the worker and the ingest processes alike: httptools parses; beyond limit_concurrency
# connections it answers 503 at once rather than hold sockets for slow clients; an idle keep-alive
# connection closes after 5 s (a body has CHATLENS_BODY_TIMEOUT_SECONDS); a burst may queue 4,096
SERVER_OPTIONS = {"http": "httptools", "limit_concurrency": 4096, "timeout_keep_alive": 5, "backlog": 4096}
log = logging.getLogger(__name__)


def create_api(services: Services) -> FastAPI:
    """The app of one worker: its services on `api.state.services` (what the routes' dependencies read),
    the publisher started and stopped with the app."""
    api = _api(services, ROUTERS, "Conversation analytics: ingest chat events, query the Users section.")
    api.state.exports = exports.export_jobs(services)
    api.mount("/ui", ui.static_files(), name="ui")
    return api


def create_ingest_api(services: Services, *, background: Callable[[], Awaitable[None]] | None = None) -> FastAPI:
    """The app of an ingest process: webhooks and events into Kafka, /health; `background` runs beside it
    (the stream's progress, which /health reports)."""
    return _api(services, INGEST_ROUTERS, "chatlens ingest: channel webhooks and the events API into Kafka.",
                background=background)


def _api(services: Services, routers, description: str,
         background: Callable[[], Awaitable[None]] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        start = getattr(services.publisher, "start", None)
        if start:
            await start()
        # What start-up made lives as long as the process: left to the collector, each full collection walked
        # it again and stalled every request in flight (webhook p99 100 ms -> 30 ms frozen; bench/RESULTS.md).
        gc.freeze()
        task = asyncio.create_task(background()) if background else None
        try:
            yield
        finally:  # bounded: with the broker away, Kafka clients can wait for ever to say goodbye
            if task is not None:
                task.cancel()
                await asyncio.wait([task], timeout=STOP_SECONDS)
            stop = getattr(services.publisher, "stop", None)
            if stop:
                try:
                    await asyncio.wait_for(stop(), STOP_SECONDS)
                except TimeoutError:
                    log.warning("the Kafka producer did not stop within %ss; leaving it", STOP_SECONDS)

    api = FastAPI(title="chatlens", version="0.1.0", lifespan=lifespan, description=description)
    api.state.services = services
    api.add_middleware(SecurityHeaders, policy=page_policy(ui.UI_DIR / "index.html"))

    @api.exception_handler(PublishUnavailable)
    async def _kafka_unavailable(_: Request, exc: PublishUnavailable) -> JSONResponse:
        """Anything Kafka did not acknowledge (events, dead letters, settings) is a 503: the sender retries."""
        return JSONResponse({"error": "kafka_unavailable", "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})

    @api.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 without echoing the input: a NaN or a deeply nested value in it cannot be rendered."""
        detail = [{"type": e.get("type"), "loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg"))}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @api.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _: ClientDisconnect) -> Response:
        """A sender that hung up mid-body: one line, not a traceback; nothing was taken."""
        log.warning("client disconnected before its body arrived: %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(FilterError)
    async def _invalid_filter(_: Request, exc: FilterError) -> JSONResponse:
        """A filter the column catalogue refuses, wherever a route compiles one: which part, and why."""
        return JSONResponse({"error": "invalid_filter", "detail": [f"{exc.location}: {exc.message}"]}, status_code=400)

    for module in routers:
        api.include_router(module.router)
    return api
