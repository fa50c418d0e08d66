"""The one way a request body becomes events in Kafka, for the webhooks and the events API alike:
read it (pipeline.core.ingest), keep what cannot be taken on the dead-letter topic with its reasons,
publish the rest. 2xx only after Kafka acknowledged; Kafka down raises PublishUnavailable (a 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

from fastapi import Request

from pipeline.core import ingest
from pipeline.core.ingest import Ingested
from pipeline.http.errors import ApiError
from pipeline.kafka.publisher import dead_letter
from pipeline.services import Services
from schemas.events import EventTooLarge


class BodyTooLarge(Exception):
    """A body over its limit: by its Content-Length, or found while reading (`prefix`: what was read)."""

    def __init__(self, limit: int, size: int, prefix: bytes = b""):
        super().__init__(f"body: at most {limit:,} bytes per request (got {'more than ' if prefix else ''}{size:,})")
        self.prefix = prefix


async def limited_body(request: Request, limit: int, seconds: float) -> bytes:
    """The body, refused by its declared length before any of it is read, and never read past `limit` (a
    chunked body too): an unauthenticated sender cannot make the process hold more than that. A body that
    takes longer than `seconds` to arrive is a 408: a sender trickling it holds a connection no longer."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, int(declared))
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                chunks.append(chunk)
                if size > limit:
                    raise BodyTooLarge(limit, size, b"".join(chunks))
    except TimeoutError:
        raise ApiError(408, "body_timeout", f"the body did not arrive within {seconds:g} s") from None
    return b"".join(chunks)


async def take(services: Services, source: str, bot_id: str, body: bytes, headers: Mapping[str, str],
               received_at: datetime, *, invalid: str, limits: str) -> Ingested:
    """The body's events, published; or a 413 `too_large` / 400 `invalid` (code named by the caller) after the
    body is kept as a dead letter. `limits` tells a sender over a size limit what the limits are."""
    try:
        taken = ingest.read_request(source, body, headers.get("content-type", ""), bot_id, received_at)
        if taken.events:
            await services.publisher.publish(taken.events)  # EventTooLarge before anything is sent
    except ingest.ERRORS as e:
        reasons = ingest.reasons(e)
        # kept first; if Kafka cannot keep it, PublishUnavailable makes the sender retry
        await services.publisher.dead_letter(dead_letter(source, bot_id, reasons, body, headers, received_at))
        if isinstance(e, EventTooLarge):
            raise ApiError(413, "too_large", [*reasons, limits]) from None
        raise ApiError(400, invalid, reasons) from None
    return taken
