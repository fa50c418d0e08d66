"""Canonical events over HTTP: ingest them (one JSON object, a JSON array, or NDJSON), list the stored ones."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from pipeline.core.ingest import EVENTS_API
from pipeline.http.deps import Authorized, ServicesDep, require
from pipeline.http.intake import take
from schemas.events import utc_now
from schemas.limits import MAX_EVENT_BYTES, MAX_EVENTS_BODY_BYTES, MAX_EVENTS_PER_REQUEST, MAX_TEXT_CHARS

router = APIRouter()
EVENTS_LIMITS = (f"limits: a text at most {MAX_TEXT_CHARS:,} characters, an event at most {MAX_EVENT_BYTES:,} bytes "
                 f"as JSON, a request at most {MAX_EVENTS_BODY_BYTES:,} bytes and {MAX_EVENTS_PER_REQUEST:,} events")


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


@router.post("/v1/bots/{bot_id}/events", status_code=202, response_model=Accepted,
             summary="Ingest canonical events (one JSON object, a JSON array, or NDJSON lines)",
             responses={400: {"description": "invalid events; kept on the dead-letter topic"},
                        413: {"description": "over a size limit (named); kept on the dead-letter topic"},
                        503: {"description": "Kafka did not acknowledge; retry"}})
async def post_events(bot: Authorized, services: ServicesDep, request: Request) -> Accepted:
    taken = await take(services, EVENTS_API, bot.bot_id, await request.body(), request.headers, utc_now(),
                       invalid="invalid_event", limits=EVENTS_LIMITS)
    return Accepted(accepted=len(taken.events), event_ids=[e.event_id for e in taken.events])


@router.get("/v1/bots/{bot_id}/events", summary="Stored raw events of a bot (or one user), oldest first")
async def list_events(bot: Authorized, services: ServicesDep, user_id: str = "",
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict:
    events = await asyncio.to_thread(require(services.store).list, bot.bot_id, user_id, limit)
    return {"events": [e.model_dump(mode="json") for e in events]}
