"""Telegram Bot API updates -> canonical events.

One ``Update`` per request. Handled: ``message`` (the user's text or caption, attachments, and the
profile Telegram sends with every message: name, username, language) and ``callback_query`` (a
callback-button click). Everything else is skipped: edits are not new messages, reactions have
no canonical kind, and Telegram adds update types every release. URL buttons open client-side
and send nothing (count them through a redirect URL), and bots never receive their own
messages, so Telegram yields no outbound messages.

Ids: ``telegram:<chat_id>:<message_id>`` (message_id is unique only inside its chat, and an edit
or a retry keeps it) and ``telegram:callback:<callback_query.id>``. ``date`` is Unix seconds; a
callback query has no time of its own, so it takes ``received_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.channels.common import body_object, from_unix, get, make, text_of
from schemas.events import Attachment, ButtonClick, Event, Message, ProfileUpdate, user_id_for

CHANNEL = "telegram"

# Message field -> canonical attachment type. A file_id is all Telegram sends (a URL needs
# getFile and the bot token), so attachments carry the file name where there is one.
ATTACHMENT_TYPES = {
    "photo": "image", "sticker": "sticker", "video": "video", "animation": "video",
    "video_note": "video", "audio": "audio", "voice": "audio", "document": "file",
    "location": "location", "venue": "location", "contact": "other", "poll": "other", "dice": "other",
}


def parse(body: Any, *, bot_id: str, received_at: datetime) -> list[Event]:
    update = body_object(body)
    get(update, "update_id", "int", "", required=True)
    if update.get("message") is not None:
        return _message(get(update, "message", "dict", ""), "message", bot_id, received_at)
    if update.get("callback_query") is not None:
        return _callback(get(update, "callback_query", "dict", ""), "callback_query", bot_id, received_at)
    return []


def _message(msg: dict[str, Any], where: str, bot_id: str, received_at: datetime) -> list[Event]:
    message_id = get(msg, "message_id", "int", where, required=True)
    chat = get(msg, "chat", "dict", where, required=True)
    chat_id = get(chat, "id", "int", f"{where}.chat", required=True)
    date = get(msg, "date", "int", where, required=True)
    user = get(msg, "from", "dict", where)
    if user is None or get(user, "is_bot", "bool", f"{where}.from"):
        return []  # channel posts and anonymous admins have no user; bots are not users
    uid = user_id_for(CHANNEL, get(user, "id", "int", f"{where}.from", required=True))
    text = get(msg, "text", "str", where) or get(msg, "caption", "str", where) or ""
    attachments = _attachments(msg, where)
    if not text and not attachments:
        return []  # service messages: joins, pins, title changes...
    common = {"bot_id": bot_id, "user_id": uid, "channel": CHANNEL, "received_at": received_at,
              # date is 0 for a scheduled message not sent yet
              "occurred_at": from_unix(date, f"{where}.date") if date > 0 else received_at}
    key = f"{CHANNEL}:{chat_id}:{message_id}"
    events: list[Event] = [make(Message, event_id=key, direction="inbound", text=text,
                                attachments=attachments, **common)]
    profile = _profile(user, f"{where}.from")
    if text.startswith("/start "):  # deep link t.me/<bot>?start=<payload>: the only source signal
        profile["referrer"] = text_of(text[len("/start "):])
    if any(profile.values()):
        events.append(make(ProfileUpdate, event_id=f"{key}:profile", profile=profile, **common))
    return events


def _attachments(msg: dict[str, Any], where: str) -> list[Attachment]:
    out = []
    for field, kind in ATTACHMENT_TYPES.items():
        if msg.get(field) is None:
            continue
        if field == "photo":  # several sizes of one picture
            get(msg, field, "list", where)
            out.append(Attachment(type=kind))
            continue
        value = get(msg, field, "dict", where)
        name_field = "emoji" if field == "sticker" else "file_name"  # a sticker's name is its emoji
        name = text_of(get(value, name_field, "str", f"{where}.{field}"))
        out.append(make(Attachment, type=kind, name=name[:1024] if name else None))   # a refusal is named
    return out


def _callback(cq: dict[str, Any], where: str, bot_id: str, received_at: datetime) -> list[Event]:
    callback_id = get(cq, "id", "str", where, required=True)
    user = get(cq, "from", "dict", where, required=True)
    uid = user_id_for(CHANNEL, get(user, "id", "int", f"{where}.from", required=True))
    data = get(cq, "data", "str", where) or get(cq, "game_short_name", "str", where)
    common = {"bot_id": bot_id, "user_id": uid, "channel": CHANNEL, "occurred_at": received_at,
              "received_at": received_at}
    key = f"{CHANNEL}:callback:{callback_id}"
    events: list[Event] = [make(ButtonClick, event_id=key, button_type="postback",
                                title=_button_text(cq.get("message"), data), payload=data, **common)]
    profile = _profile(user, f"{where}.from")
    if any(profile.values()):
        events.append(make(ProfileUpdate, event_id=f"{key}:profile", profile=profile, **common))
    return events


def _button_text(message: Any, data: str | None) -> str:
    """The pressed button's label, found in the keyboard of the message that carried it."""
    markup = message.get("reply_markup") if isinstance(message, dict) else None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    for row in rows if isinstance(rows, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and data is not None and button.get("callback_data") == data:
                label = button.get("text")
                return label if isinstance(label, str) else ""
    return ""


def _profile(user: dict[str, Any], where: str) -> dict[str, str | None]:
    """What Telegram sends about a user: names, username and language, never e-mail or location."""
    names = [get(user, k, "str", where) for k in ("first_name", "last_name")]
    name = " ".join(n.strip() for n in names if n and n.strip())
    return {"name": name or None, "username": text_of(get(user, "username", "str", where)),
            "language": text_of(get(user, "language_code", "str", where))}

