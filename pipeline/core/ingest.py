"""Turning a request body into canonical events for one bot: pure, so every rule is unit-tested."""

from __future__ import annotations

import json
from datetime import datetime

from schemas.events import Event, EventTooLarge, InvalidEvent, parse_event
from schemas.limits import MAX_EVENTS_PER_REQUEST


def split_body(body: bytes) -> list[object]:
    """One JSON object, a JSON array of objects, or NDJSON (one object per line)."""
    text = body.decode("utf-8", errors="strict").strip() if body else ""
    if not text:
        raise InvalidEvent(["body: expected a JSON object or NDJSON lines (got an empty body)"])
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
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
