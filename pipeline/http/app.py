"""The HTTP app factory: health, event ingestion, the Users API and page (/ui/), admin SQL (OpenAPI at /docs).

Served by the worker process (chDB allows one engine per process, so everything that reads the
embedded store asks the worker over HTTP). Every route module has a router; this module includes them,
mounts the page's static files, and answers the errors they share.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipeline.http import admin, bot_settings, events, exports, health, schedules, segments, ui, users, webhooks
from pipeline.http.errors import ApiError
from pipeline.kafka.publisher import PublishUnavailable
from pipeline.services import Services
from queries.columns import FilterError

ROUTERS = (health, events, bot_settings, admin, webhooks, users, segments, exports, schedules, ui)


def create_api(services: Services) -> FastAPI:
    """The app of one worker: its services on `api.state.services` (what the routes' dependencies read),
    the publisher started and stopped with the app."""
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        start = getattr(services.publisher, "start", None)
        if start:
            await start()
        try:
            yield
        finally:
            stop = getattr(services.publisher, "stop", None)
            if stop:
                await stop()

    api = FastAPI(title="chatlens", version="0.1.0", lifespan=lifespan,
                  description="Conversation analytics: ingest chat events, query the Users section.")
    api.state.services = services
    api.state.exports = exports.export_jobs(services)

    @api.exception_handler(PublishUnavailable)
    async def _kafka_unavailable(_: Request, exc: PublishUnavailable) -> JSONResponse:
        """Anything Kafka did not acknowledge (events, dead letters, settings) is a 503: the sender retries."""
        return JSONResponse({"error": "kafka_unavailable", "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(FilterError)
    async def _invalid_filter(_: Request, exc: FilterError) -> JSONResponse:
        """A filter the column catalogue refuses, wherever a route compiles one: which part, and why."""
        return JSONResponse({"error": "invalid_filter", "detail": [f"{exc.location}: {exc.message}"]}, status_code=400)

    for module in ROUTERS:
        api.include_router(module.router)
    api.mount("/ui", ui.static_files(), name="ui")
    return api
