"""The one way a request body becomes events in Kafka, for the webhooks and the events API alike:
read it (pipeline.core.ingest), keep what cannot be taken on the dead-letter topic with its reasons,
publish the rest. 2xx only after Kafka acknowledged; Kafka down raises PublishUnavailable (a 503).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pipeline.core import ingest
from pipeline.core.ingest import Ingested
from pipeline.http.errors import ApiError
from pipeline.kafka.publisher import dead_letter
from pipeline.services import Services
from schemas.events import EventTooLarge


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
