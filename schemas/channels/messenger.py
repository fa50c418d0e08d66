"""Messenger Platform (Meta) webhook notifications -> canonical events.

Body: ``{"object": "page", "entry": [{"id", "time", "messaging": [...]}]}``. Meta batches
through several ``entry`` items and documents one item per ``messaging``; every item of both is
parsed, and so is ``entry[].standby`` (messages of threads another app owns, still the user's).
Handled items: ``message`` (inbound; ``is_echo`` = the page's own reply, outbound, attributed to
the recipient PSID; ``quick_reply`` also counts as a postback click), ``postback`` (a postback
button, Get Started or menu item) and ``referral``. Edits, reactions, reads, deliveries and
unknown keys are skipped. ``web_url`` buttons send no webhook at all.

No profile arrives (the User Profile API needs the page token); the only acquisition signal,
``referral{source, ref}``, becomes ``Profile.referrer`` as ``"<source>:<ref>"``.
Ids: ``messenger:<mid>``; times are Unix **milliseconds**.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas.channels.common import (
    MISSING,
    HandshakeRejected,
    PayloadError,
    body_object,
    from_unix,
    get,
    items,
    make,
    text_of,
)
from schemas.events import Attachment, ButtonClick, Event, Message, ProfileUpdate, user_id_for

CHANNEL = "messenger"
ATTACHMENT_TYPES = {"image": "image", "video": "video", "audio": "audio", "file": "file",
                    "sticker": "sticker", "location": "location"}  # fallback, reel, post, template... -> other


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str:
    """The GET handshake: answer 200 with the returned ``hub.challenge``, else 403."""
    if not verify_token:
        raise HandshakeRejected("no verify_token is configured for this bot")
    if params.get("hub.mode") != "subscribe":
        raise HandshakeRejected("hub.mode is not 'subscribe'")
    token = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), verify_token.encode()):
        raise HandshakeRejected("hub.verify_token does not match")
    challenge = params.get("hub.challenge") or ""
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,128}", challenge):  # Meta sends an int; never reflect markup
        raise HandshakeRejected("hub.challenge is missing or not a plain token")
    return challenge


def parse(body: Any, *, bot_id: str, received_at: datetime) -> list[Event]:
    body = body_object(body)
    if get(body, "object", "str", "", required=True) != "page":
        return []  # Instagram and other objects are not this channel
    get(body, "entry", "list", "", required=True)
    events: list[Event] = []
    for where, entry in items(body, "entry", ""):
        fallback_time = get(entry, "time", "int", where)
        for key in ("messaging", "standby"):
            for path, item in items(entry, key, where):
                events += _item(item, path, fallback_time, bot_id, received_at)
    return events


def _item(item: dict[str, Any], where: str, fallback_time: int | None, bot_id: str,
          received_at: datetime) -> list[Event]:
    kind = next((k for k in ("message", "postback", "referral") if item.get(k) is not None), None)
    if kind is None:
        return []
    get(item, "sender", "dict", where, required=True)
    get(item, "recipient", "dict", where, required=True)
    ms = get(item, "timestamp", "int", where, expected="Unix time in milliseconds")
    ms = ms if ms is not None else fallback_time
    if ms is None:
        raise PayloadError(f"{where}.timestamp", "Unix time in milliseconds", MISSING)
    ctx = {"bot_id": bot_id, "channel": CHANNEL, "occurred_at": from_unix(ms, f"{where}.timestamp", "ms"),
           "received_at": received_at}
    if kind == "message":
        return _message(get(item, "message", "dict", where), item, where, ctx)
    psid = _user(item["sender"], f"{where}.sender")
    ctx["user_id"] = user_id_for(CHANNEL, psid)
    if kind == "postback":
        return _postback(get(item, "postback", "dict", where), psid, ms, f"{where}.postback", ctx)
    referral = _referral(get(item, "referral", "dict", where), f"{where}.referral")
    if referral is None:
        return []
    return [make(ProfileUpdate, event_id=f"{CHANNEL}:referral:{psid}:{ms}",
                 profile={"referrer": referral}, **ctx)]


def _message(msg: dict[str, Any], item: dict[str, Any], where: str, ctx: dict[str, Any]) -> list[Event]:
    path = f"{where}.message"
    mid = get(msg, "mid", "str", path, required=True)
    echo = get(msg, "is_echo", "bool", path) is True
    side = "recipient" if echo else "sender"  # echoes are sent by the page to the user
    ctx["user_id"] = user_id_for(CHANNEL, _user(item[side], f"{where}.{side}"))
    text = get(msg, "text", "str", path) or ""
    events: list[Event] = [make(Message, event_id=f"{CHANNEL}:{mid}", direction="outbound" if echo else "inbound",
                                text=text, attachments=_attachments(msg, path), **ctx)]
    quick_reply = get(msg, "quick_reply", "dict", path)
    if quick_reply is not None and not echo:
        events.append(make(ButtonClick, event_id=f"{CHANNEL}:{mid}:quick_reply", button_type="postback",
                           title=text, payload=get(quick_reply, "payload", "str", f"{path}.quick_reply"), **ctx))
    referral = _referral(get(msg, "referral", "dict", path), f"{path}.referral")
    if referral is not None and not echo:
        events.append(make(ProfileUpdate, event_id=f"{CHANNEL}:{mid}:referral",
                           profile={"referrer": referral}, **ctx))
    return events


def _attachments(msg: dict[str, Any], where: str) -> list[Attachment]:
    """During Meta's sticker transition one sticker arrives twice (image + sticker): keep one."""
    out, seen = [], set()
    for path, att in items(msg, "attachments", where):
        kind = ATTACHMENT_TYPES.get(get(att, "type", "str", path, required=True), "other")
        payload = get(att, "payload", "dict", path) or {}
        sticker_id = get(payload, "sticker_id", "id", f"{path}.payload")
        url = get(payload, "url", "str", f"{path}.payload")
        if sticker_id is not None:
            kind = "sticker"
        key = ("sticker", str(sticker_id)) if sticker_id is not None else (kind, url)
        if key in seen:
            continue
        seen.add(key)
        title = text_of(get(payload, "title", "str", f"{path}.payload"))
        out.append(make(Attachment, type=kind, url=url, name=title[:1024] if title else None))
    return out


def _postback(pb: dict[str, Any], psid: str, ms: int, where: str, ctx: dict[str, Any]) -> list[Event]:
    mid = get(pb, "mid", "str", where)  # older deliveries have no mid: sender + time is stable
    key = f"{CHANNEL}:postback:{mid}" if mid else f"{CHANNEL}:postback:{psid}:{ms}"
    events: list[Event] = [make(ButtonClick, event_id=key, button_type="postback",
                                title=get(pb, "title", "str", where) or "",
                                payload=get(pb, "payload", "str", where), **ctx)]
    referral = _referral(get(pb, "referral", "dict", where), f"{where}.referral")
    if referral is not None:
        events.append(make(ProfileUpdate, event_id=f"{key}:referral", profile={"referrer": referral}, **ctx))
    return events


def _referral(referral: dict[str, Any] | None, where: str) -> str | None:
    if referral is None:
        return None
    source = text_of(get(referral, "source", "str", where))
    ref = text_of(get(referral, "ref", "str", where))
    return f"{source}:{ref}" if source and ref else (source or ref)


def _user(side: dict[str, Any], where: str) -> str:
    """The PSID, or ``user_ref:<ref>`` for Chat-plugin guests who have no PSID yet."""
    psid = get(side, "id", "id", where)
    if psid is not None:
        return str(psid)
    user_ref = get(side, "user_ref", "id", where)
    if user_ref is None:
        raise PayloadError(f"{where}.id", "a PSID (or a user_ref)", MISSING)
    return f"user_ref:{user_ref}"
