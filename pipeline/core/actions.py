"""Admin actions become admin events on the events topic, one per user, so the log stays the
source of truth: the projections pick them up like any event, and a rebuild replays them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from schemas.actions import NEEDS, ActionRequest
from schemas.events import Event, parse_event

EVENT_KINDS = {
    "add_tag": "tag_added", "remove_tag": "tag_removed", "set_attribute": "attribute_set",
    "remove_attribute": "attribute_removed", "add_to_segment": "segment_added",
    "remove_from_segment": "segment_removed", "edit_name": "name_edited", "edit_email": "email_edited",
    "ban": "user_banned", "unban": "user_unbanned", "delete": "user_deleted",
}


def action_id(idempotency_key: str | None, fallback: str) -> str:
    """Stable across retries of one request when the caller sends an Idempotency-Key."""
    return hashlib.sha256((idempotency_key or fallback).encode()).hexdigest()[:16]


def events_for(request: ActionRequest, bot_id: str, user_ids: list[str], *, at: datetime, action: str) -> list[Event]:
    """One admin event per user; the event id names the action, so a retried request counts once."""
    fields = {name: getattr(request, name) for name in NEEDS[request.action]}
    events = []
    for user_id in user_ids:
        raw = {"kind": EVENT_KINDS[request.action], "event_id": f"admin:{action}:{user_id}", "bot_id": bot_id,
               "user_id": user_id, "occurred_at": at.isoformat(), "received_at": at.isoformat(), **fields}
        if request.actor:
            raw["actor"] = request.actor
        events.append(parse_event(raw))
    return events
