"""chatlens web-chat widget webhooks (our own format) -> canonical events.

Signed with Standard Webhooks v1 (headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature``; see pipeline.core.signatures.verify_web). The JSON body batches 1..N events,
e.g. a widget proxy flushing its offline queue::

    {"site_id": "site_demo_shop",
     "events": [
      {"id": "evt_01", "type": "message.created", "occurred_at": "2026-11-20T09:14:00.123Z",
       "visitor": {"id": "vis_42"},
       "message": {"id": "msg_01", "direction": "inbound", "text": "Hola 👋 ¿tenéis talla M?",
                   "attachments": [{"type": "image", "url": "https://cdn.example/a.jpg", "name": "a.jpg"}]}},
      {"id": "evt_02", "type": "button.clicked", "occurred_at": "2026-11-20T09:14:31Z",
       "visitor": {"id": "vis_42"},
       "click": {"message_id": "msg_02", "button_id": "see_plans", "label": "See plans",
                 "kind": "url", "url": "https://shop.example/plans"}},
      {"id": "evt_03", "type": "visitor.identified", "occurred_at": "2026-11-20T09:15:00+01:00",
       "visitor": {"id": "vis_42"},
       "profile": {"name": "Ana Ruiz", "email": "ana@example.com", "language": "es-ES",
                   "timezone": "Europe/Madrid", "country": "ES", "city": "Madrid", "region": "Madrid",
                   "avatar_url": "https://cdn.example/ana.png", "username": "ana_r", "gender": "female",
                   "external_id": "crm-991"},
       "context": {"page_url": "https://shop.example/pricing", "referrer": "https://www.google.com/",
                   "ip": "192.0.2.44", "user_agent": "Mozilla/5.0 ...", "integration": "shopify"}}]}

* Every event: ``id`` (unique, stable across retries), ``type``, ``occurred_at`` (RFC 3339 with
  a zone), ``visitor.id`` (the user). Unknown ``type`` values are skipped, so the widget can grow.
* ``message.created``: ``message.id``, ``direction`` inbound|outbound (bot or agent replies),
  ``text``, ``attachments[]`` of ``{type: image|video|audio|file|sticker|location|other, url, name}``.
* ``button.clicked``: ``click.kind`` url|postback, ``label``, ``url`` (url buttons) or ``payload``
  (postback buttons; defaults to ``button_id``).
* ``profile`` / ``context`` may ride on any event and become a ProfileUpdate; every field is
  optional and an empty string means unknown.
Ids: ``web:<message.id>`` for messages, ``web:<event id>`` for clicks, ``web:<event id>:profile``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.channels.common import PayloadError, body_object, from_iso, get, items, make, text_of
from schemas.events import Attachment, ButtonClick, Event, Message, ProfileUpdate, user_id_for

CHANNEL = "web"
ATTACHMENT_TYPES = ("image", "video", "audio", "file", "sticker", "location", "other")
# widget field -> Profile field
PROFILE_FIELDS = {"name": "name", "email": "email", "language": "language", "timezone": "timezone",
                  "country": "country", "city": "city", "region": "region", "avatar_url": "avatar",
                  "username": "username", "gender": "gender", "external_id": "external_user_id"}
CONTEXT_FIELDS = {"page_url": "source", "referrer": "referrer", "ip": "ip", "integration": "integration"}


def parse(body: Any, *, bot_id: str, received_at: datetime) -> list[Event]:
    body = body_object(body)
    get(body, "events", "list", "", required=True)
    events: list[Event] = []
    for where, event in items(body, "events", ""):
        events += _event(event, where, bot_id, received_at)
    return events


def _event(ev: dict[str, Any], where: str, bot_id: str, received_at: datetime) -> list[Event]:
    event_id = get(ev, "id", "id", where, required=True)
    kind = get(ev, "type", "str", where, required=True)
    visitor = get(ev, "visitor", "dict", where, required=True)
    common = {"bot_id": bot_id, "channel": CHANNEL, "received_at": received_at,
              "user_id": user_id_for(CHANNEL, get(visitor, "id", "id", f"{where}.visitor", required=True)),
              "occurred_at": from_iso(get(ev, "occurred_at", "str", where, required=True), f"{where}.occurred_at")}
    events: list[Event] = []
    if kind == "message.created":
        events.append(_message(get(ev, "message", "dict", where, required=True), f"{where}.message", common))
    elif kind == "button.clicked":
        events.append(_click(get(ev, "click", "dict", where, required=True), f"{where}.click", event_id, common))
    profile = {**_fields(ev, "profile", PROFILE_FIELDS, where), **_fields(ev, "context", CONTEXT_FIELDS, where)}
    if profile:
        events.append(make(ProfileUpdate, event_id=f"{CHANNEL}:{event_id}:profile", profile=profile, **common))
    return events


def _message(msg: dict[str, Any], where: str, common: dict[str, Any]) -> Event:
    direction = get(msg, "direction", "str", where, required=True, expected='"inbound" or "outbound"')
    if direction not in ("inbound", "outbound"):
        raise PayloadError(f"{where}.direction", '"inbound" or "outbound"', direction)
    attachments = []
    for path, att in items(msg, "attachments", where):
        kind = get(att, "type", "str", path, required=True)
        if kind not in ATTACHMENT_TYPES:
            raise PayloadError(f"{path}.type", "one of " + ", ".join(ATTACHMENT_TYPES), kind)
        attachments.append(make(Attachment, type=kind, url=get(att, "url", "str", path),
                                name=get(att, "name", "str", path)))
    return make(Message, event_id=f"{CHANNEL}:{get(msg, 'id', 'id', where, required=True)}", direction=direction,
                text=get(msg, "text", "str", where) or "", attachments=attachments, **common)


def _click(click: dict[str, Any], where: str, event_id: str | int, common: dict[str, Any]) -> Event:
    kind = get(click, "kind", "str", where, required=True, expected='"url" or "postback"')
    if kind not in ("url", "postback"):
        raise PayloadError(f"{where}.kind", '"url" or "postback"', kind)
    url = get(click, "url", "str", where, required=kind == "url")
    payload = get(click, "payload", "str", where) or get(click, "button_id", "str", where)
    return make(ButtonClick, event_id=f"{CHANNEL}:{event_id}", button_type=kind, url=url,
                title=get(click, "label", "str", where) or "", payload=None if kind == "url" else payload, **common)


def _fields(ev: dict[str, Any], key: str, mapping: dict[str, str], where: str) -> dict[str, str]:
    section = get(ev, key, "dict", where) or {}
    values = {target: text_of(get(section, source, "str", f"{where}.{key}")) for source, target in mapping.items()}
    return {k: v for k, v in values.items() if v}
