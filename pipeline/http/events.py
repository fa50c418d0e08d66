"""Canonical events in over HTTP: one JSON object, a JSON array, or NDJSON lines (needs no store: the ingest
process serves it too)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from pipeline.core.ingest import EVENTS_API
from pipeline.http.deps import Authorized, ServicesDep
from pipeline.http.errors import ApiError
from pipeline.http.intake import BodyTooLarge, limited_body, take
from pipeline.kafka.publisher import dead_letter
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
    try:
        body = await limited_body(request, MAX_EVENTS_BODY_BYTES, services.settings.body_timeout_seconds)
    except BodyTooLarge as e:   # authenticated: kept (what was read of it) with the reason
        await services.publisher.dead_letter(dead_letter(EVENTS_API, bot.bot_id, [str(e)], e.prefix,
                                                         request.headers, utc_now()))
        raise ApiError(413, "too_large", [str(e), EVENTS_LIMITS]) from None
    taken = await take(services, EVENTS_API, bot.bot_id, body, request.headers, utc_now(),
                       invalid="invalid_event", limits=EVENTS_LIMITS)
    return Accepted(accepted=len(taken.events), event_ids=[e.event_id for e in taken.events])
