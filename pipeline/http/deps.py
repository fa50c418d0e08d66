"""What every route depends on, as FastAPI dependencies: the services, the bot a key opens, admin rights,
the store, and running a store call off the event loop.

The app factory keeps the services on `app.state.services`; routes ask for them with `ServicesDep`.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import ValidationError

from pipeline.core.bots import Bot
from pipeline.http.errors import ApiError
from pipeline.services import Services
from schemas.events import describe


async def get_services(request: Request) -> Services:
    """The services create_api was given: one app per worker, so routes hold no module-level state."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; anything else is a 401 saying how to send it."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send the bot's API key as 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})
    return token.strip()


async def authorized_bot(bot_id: str, services: ServicesDep,
                   authorization: Annotated[str | None, Header()] = None) -> Bot:
    """The bot of the URL, if the key opens it; one answer for unknown bot and wrong key (no bot probing)."""
    token = bearer(authorization)
    bot = services.bots.get(bot_id)
    if bot is None or not bot.accepts_key(token):
        raise ApiError(401, "unauthorized", "unknown bot or wrong API key", {"WWW-Authenticate": "Bearer"})
    return bot


Authorized = Annotated[Bot, Depends(authorized_bot)]


async def admin(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """Admin routes are off (403) until CHATLENS_ADMIN_KEY is set; the key is compared in constant time."""
    token = bearer(authorization)
    key = services.settings.admin_key
    if key is None:
        raise ApiError(403, "forbidden", "set CHATLENS_ADMIN_KEY to enable admin endpoints")
    if not hmac.compare_digest(token.encode(), key.encode()):
        raise ApiError(401, "unauthorized", "wrong admin key", {"WWW-Authenticate": "Bearer"})


def require(store: Any) -> Any:
    """Reads need the store; a worker started with CHATLENS_SINK=false has none."""
    if store is None:
        raise ApiError(503, "no_store", "this worker holds no store (CHATLENS_SINK=false); ask the one that does")
    return store


async def run_store(services: Services, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(client, *args) in a thread (ClickHouse reads block). A filter the catalogue refuses raises
    FilterError, which the app answers 400; a filter pydantic refuses inside the call is the same 400."""
    client = require(services.clickhouse)
    try:
        return await asyncio.to_thread(fn, client, *args, **kwargs)
    except ValidationError as e:
        raise ApiError(400, "invalid_filter", describe(e)) from None


async def publish_events(services: Services, events: list) -> None:
    """In requests of 1000; Kafka down is a 503 (PublishUnavailable), retried with the same Idempotency-Key."""
    for start in range(0, len(events), 1000):
        await services.publisher.publish(events[start:start + 1000])
