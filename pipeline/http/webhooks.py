"""Channel webhooks: authenticate as the platform documents, then the one intake path; nothing half-taken.

Order matters: an unauthenticated request is refused before its body is even parsed (nothing is
written); an authenticated but malformed one is kept on the dead-letter topic with its reason;
2xx only after Kafka acknowledged every event of the request.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from pipeline.core.ingest import webhook_source
from pipeline.core.signatures import ChannelNotConfigured, Unauthenticated, verify
from pipeline.http.deps import ServicesDep
from pipeline.http.errors import ApiError
from pipeline.http.intake import BodyTooLarge, limited_body, take
from pipeline.http.lean_route import LeanRoute
from schemas.channels import HandshakeRejected, messenger
from schemas.events import CHANNELS, utc_now
from schemas.limits import MAX_EVENT_BYTES, MAX_TEXT_CHARS, MAX_WEBHOOK_BYTES

router = APIRouter(tags=["webhooks"])
TOO_LARGE_HINT = (f"limits: a text at most {MAX_TEXT_CHARS:,} characters, an event at most {MAX_EVENT_BYTES:,} "
                  f"bytes as JSON, a webhook body at most {MAX_WEBHOOK_BYTES:,} bytes")


_lean = APIRouter(tags=["webhooks"], route_class=LeanRoute)  # the hot path


@_lean.post("/webhooks/{channel}/{bot_id}",
            summary="A chat platform's webhook (telegram, messenger, livechat, slack, web)",
            responses={200: {"description": "every event is in Kafka"}, 400: {"description": "malformed; kept"},
                       401: {"description": "unknown bot or bad signature; nothing written"},
                       413: {"description": "over a size limit (named); kept when authenticated"},
                       403: {"description": "channel not configured for this bot"},
                       503: {"description": "Kafka unavailable; the platform retries"}})
async def webhook(channel: str, bot_id: str, request: Request) -> JSONResponse:
    services = request.app.state.services  # a LeanRoute: no dependencies are solved
    if channel not in CHANNELS:
        raise ApiError(404, "unknown_channel", f"channel must be one of {', '.join(CHANNELS)}")
    try:
        body = await limited_body(request, MAX_WEBHOOK_BYTES, services.settings.body_timeout_seconds)
    except BodyTooLarge as e:   # before authentication: nothing of it is kept
        raise ApiError(413, "too_large", str(e)) from None
    bot = services.bots.get(bot_id)
    if bot is None:
        raise ApiError(401, "unauthenticated", "unknown bot")
    received_at = utc_now()
    try:
        verify(channel, request.headers, body, bot.channel_secrets(channel), now=received_at)
    except ChannelNotConfigured as e:
        raise ApiError(403, "channel_not_configured", str(e)) from None
    except Unauthenticated as e:
        raise ApiError(401, "unauthenticated", e.reason) from None
    taken = await take(services, webhook_source(channel), bot.bot_id, body, request.headers, received_at,
                       invalid="invalid_payload", limits=TOO_LARGE_HINT)
    if taken.challenge is not None:
        return JSONResponse({"challenge": taken.challenge})
    return JSONResponse({"accepted": len(taken.events), "event_ids": [e.event_id for e in taken.events]})


@router.get("/webhooks/messenger/{bot_id}", response_class=PlainTextResponse,
            summary="Messenger's subscription handshake: echoes hub.challenge when hub.verify_token matches")
async def messenger_handshake(bot_id: str, request: Request, services: ServicesDep) -> PlainTextResponse:
    bot = services.bots.get(bot_id)
    secrets = bot.channel_secrets("messenger") if bot else None
    try:
        if not secrets:
            raise HandshakeRejected("unknown bot or Messenger not configured")
        return PlainTextResponse(messenger.verify_subscription(dict(request.query_params), secrets["verify_token"]))
    except HandshakeRejected as e:
        return PlainTextResponse(str(e), status_code=403)


router.include_router(_lean)
