"""A request body in, canonical events out: the one path of the events API, the five webhooks and
`chatlens dlq replay` (which re-reads a dead letter with today's code). Pure, so every rule is unit-tested.

A source names where a body came from: "events-api" or "webhook:<channel>", as dead letters record it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from schemas import json_input
from schemas.channels import PARSERS, PayloadError, slack
from schemas.events import Event, EventTooLarge, InvalidEvent, parse_event
from schemas.limits import MAX_EVENTS_BODY_BYTES, MAX_EVENTS_PER_REQUEST

EVENTS_API = "events-api"
WEBHOOK = "webhook:"
ERRORS = (PayloadError, InvalidEvent)  # what a body that cannot be taken raises; nothing else escapes


@dataclass(frozen=True)
class Ingested:
    events: list[Event] = field(default_factory=list)
    challenge: str | None = None  # Slack's signed url_verification: echo it, publish nothing


def webhook_source(channel: str) -> str:
    return WEBHOOK + channel


def read_request(source: str, body: bytes, content_type: str, bot_id: str, received_at: datetime) -> Ingested:
    """The events a body holds for `bot_id`; raises PayloadError or InvalidEvent (EventTooLarge) naming why."""
    if source == EVENTS_API:
        if len(body) > MAX_EVENTS_BODY_BYTES:
            raise EventTooLarge([f"body: at most {MAX_EVENTS_BODY_BYTES:,} bytes per request (got {len(body):,})"])
        return Ingested(events_for_bot(body, bot_id, received_at))
    channel = source.removeprefix(WEBHOOK)
    if not source.startswith(WEBHOOK) or channel not in PARSERS:
        raise InvalidEvent([f"source {source!r} is neither {EVENTS_API!r} nor a webhook of a known channel"])
    payload = decode_body(body, content_type)
    if channel == "slack" and (challenge := slack.url_verification_challenge(payload)) is not None:
        return Ingested(challenge=challenge)
    return Ingested(PARSERS[channel](payload, bot_id=bot_id, received_at=received_at))


def reasons(error: Exception) -> list[str]:
    """What a dead letter records of an error of ERRORS."""
    return error.problems if isinstance(error, InvalidEvent) else [str(error)]


def decode_body(body: bytes, content_type: str) -> Any:
    """JSON, or a form (Slack interactivity sends `payload=<json>` form-encoded)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body", "UTF-8 text", "undecodable bytes") from None
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json_input.loads(text)
    except ValueError as e:
        raise PayloadError("body", "a JSON document", f"invalid JSON ({e})") from None


def split_body(body: bytes) -> list[object]:
    """One JSON object, a JSON array of objects, or NDJSON (one object per line)."""
    text = body.decode("utf-8", errors="strict").strip() if body else ""
    if not text:
        raise InvalidEvent(["body: expected a JSON object or NDJSON lines (got an empty body)"])
    try:
        whole = json_input.loads(text)
    except json_input.TooDeep as e:
        raise InvalidEvent([f"body: {e.msg}"]) from None
    except ValueError:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json_input.loads(line))
            except ValueError as e:
                raise InvalidEvent([f"line {number}: not valid JSON ({e.msg})"]) from None
        return items
    return whole if isinstance(whole, list) else [whole]


def events_for_bot(body: bytes, bot_id: str, received_at: datetime) -> list[Event]:
    """Validate every item; the URL names the bot, the server stamps received_at. All or nothing."""
    try:
        items = split_body(body)
    except UnicodeDecodeError:
        raise InvalidEvent(["body: not UTF-8"]) from None
    if len(items) > MAX_EVENTS_PER_REQUEST:
        raise EventTooLarge([f"body: at most {MAX_EVENTS_PER_REQUEST} events per request (got {len(items)})"])
    events, problems, too_large = [], [], False
    for index, item in enumerate(items):
        where = f"event {index}: " if len(items) > 1 else ""
        if isinstance(item, dict):
            if item.setdefault("bot_id", bot_id) != bot_id:
                problems.append(f"{where}bot_id: must be the URL's bot {bot_id!r} (got {item['bot_id']!r})")
                continue
            item["received_at"] = received_at.isoformat()
        try:
            events.append(parse_event(item))
        except InvalidEvent as e:
            problems += [where + p for p in e.problems]
            too_large = too_large or isinstance(e, EventTooLarge)
    if problems:
        raise (EventTooLarge if too_large else InvalidEvent)(problems)
    return events
