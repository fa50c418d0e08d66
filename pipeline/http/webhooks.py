"""Channel webhooks: authenticate as the platform documents, parse, publish; nothing half-taken.

Order matters: an unauthenticated request is refused before its body is even parsed (nothing is
written); an authenticated but malformed one is kept on the dead-letter topic with its reason;
2xx only after Kafka acknowledged every event of the request.
"""

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from pipeline.kafka.publisher import dead_letter
from pipeline.services import Services
from pipeline.core.signatures import ChannelNotConfigured, Unauthenticated, verify
from schemas.channels import PARSERS, HandshakeRejected, PayloadError, messenger, slack
from schemas.events import CHANNELS, EventTooLarge, InvalidEvent, utc_now
from schemas.limits import MAX_EVENT_BYTES, MAX_TEXT_CHARS, MAX_WEBHOOK_BYTES


TOO_LARGE_HINT = (f"limits: a text at most {MAX_TEXT_CHARS:,} characters, an event at most {MAX_EVENT_BYTES:,} "
                  f"bytes as JSON, a webhook body at most {MAX_WEBHOOK_BYTES:,} bytes")


def _error(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def decode_body(body: bytes, content_type: str) -> Any:
    """JSON, or a form (Slack interactivity sends `payload=<json>` form-encoded)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body", "UTF-8 text", "undecodable bytes") from None
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except ValueError as e:
        raise PayloadError("body", "a JSON document", f"invalid JSON ({e})") from None


def add_webhook_routes(api: FastAPI, services: Services) -> None:
    @api.post("/webhooks/{channel}/{bot_id}", tags=["webhooks"],
              summary="A chat platform's webhook (telegram, messenger, livechat, slack, web)",
              responses={200: {"description": "every event is in Kafka"}, 400: {"description": "malformed; kept"},
                         401: {"description": "unknown bot or bad signature; nothing written"},
                         413: {"description": "over a size limit (named); kept when authenticated"},
                         403: {"description": "channel not configured for this bot"},
                         503: {"description": "Kafka unavailable; the platform retries"}})
    async def webhook(channel: str, bot_id: str, request: Request) -> JSONResponse:
        if channel not in CHANNELS:
            return _error(404, "unknown_channel", f"channel must be one of {', '.join(CHANNELS)}")
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return _error(413, "too_large", f"at most {MAX_WEBHOOK_BYTES:,} bytes per webhook body "
                                            f"(got {len(body):,})")
        bot = services.bots.get(bot_id)
        if bot is None:
            return _error(401, "unauthenticated", "unknown bot")
        received_at = utc_now()
        try:
            verify(channel, request.headers, body, bot.channel_secrets(channel), now=received_at)
        except ChannelNotConfigured as e:
            return _error(403, "channel_not_configured", str(e))
        except Unauthenticated as e:
            return _error(401, "unauthenticated", e.reason)
        try:
            payload = decode_body(body, request.headers.get("content-type", ""))
            if channel == "slack" and (challenge := slack.url_verification_challenge(payload)) is not None:
                return JSONResponse({"challenge": challenge})
            events = PARSERS[channel](payload, bot_id=bot.bot_id, received_at=received_at)
            if events:
                await services.publisher.publish(events)  # EventTooLarge before anything is sent
        except (PayloadError, InvalidEvent) as e:
            reasons = e.problems if isinstance(e, InvalidEvent) else [str(e)]
            # kept first; a Kafka outage raises PublishUnavailable, which the app answers with 503
            await services.publisher.dead_letter(
                dead_letter(f"webhook:{channel}", bot.bot_id, reasons, body, request.headers, received_at))
            if isinstance(e, EventTooLarge):
                return _error(413, "too_large", [*reasons, TOO_LARGE_HINT])
            return _error(400, "invalid_payload", reasons)
        return JSONResponse({"accepted": len(events), "event_ids": [e.event_id for e in events]})

    @api.get("/webhooks/messenger/{bot_id}", tags=["webhooks"], response_class=PlainTextResponse,
             summary="Messenger's subscription handshake: echoes hub.challenge when hub.verify_token matches")
    async def messenger_handshake(bot_id: str, request: Request) -> PlainTextResponse:
        bot = services.bots.get(bot_id)
        secrets = bot.channel_secrets("messenger") if bot else None
        try:
            if not secrets:
                raise HandshakeRejected("unknown bot or Messenger not configured")
            return PlainTextResponse(messenger.verify_subscription(dict(request.query_params),
                                                                   secrets["verify_token"]))
        except HandshakeRejected as e:
            return PlainTextResponse(str(e), status_code=403)
