"""Slack Events API and interactivity payloads -> canonical events.

Two bodies reach the bot, both signed the same way (see pipeline.core.signatures):
* Events API JSON, ``type: event_callback`` with one ``event`` per request. ``message`` events
  become messages: user messages (plain, ``file_share``, ``thread_broadcast``, ``me_message``)
  inbound; the bot's own replies (``bot_id``/``bot_message`` from this app) outbound, attributed
  to ``parent_user_id`` (a reply in the user's thread) and skipped when the event names no human.
  Edits, deletions, joins, other bots and other event types are skipped.
* Interactivity, form-encoded with one field ``payload`` holding JSON (pass the decoded form, or
  the parsed JSON itself): ``block_actions`` button clicks, ``button_type`` "url" when the button
  has a ``url`` (Slack still sends the request for link buttons), else "postback" with its value.
``url_verification`` and ``app_rate_limited`` give ``[]`` (answer the first with
:func:`url_verification_challenge`).

Text: Slack escapes ``& < >`` and clients write emoji as ``:shortcodes:``; both are turned back
into the characters the user saw. Ids: ``slack:<channel>:<ts>`` (a message's identity; a retried
event keeps it) and ``slack:action:<trigger_id>:<action_id>``. ``ts`` / ``action_ts`` are
"seconds.micro" strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import emoji

from schemas import json_input
from schemas.channels.common import PayloadError, body_object, from_decimal_string, get, items, make, text_of
from schemas.events import Attachment, ButtonClick, Event, Message, ProfileUpdate, user_id_for

CHANNEL = "slack"
USER_SUBTYPES = {None, "file_share", "thread_broadcast", "me_message"}


def url_verification_challenge(body: Any) -> str | None:
    """The challenge to echo back for a (signed) ``url_verification`` request, else None."""
    if isinstance(body, dict) and body.get("type") == "url_verification":
        return get(body, "challenge", "str", "", required=True)
    return None


def parse(body: Any, *, bot_id: str, received_at: datetime) -> list[Event]:
    body = body_object(body)
    if "type" not in body and "payload" in body:  # the decoded interactivity form
        body = _form_payload(body["payload"])
    kind = get(body, "type", "str", "", required=True)
    if kind == "event_callback":
        return _event_callback(body, bot_id, received_at)
    if kind == "block_actions":
        return _block_actions(body, bot_id, received_at)
    return []


def _form_payload(raw: Any) -> dict[str, Any]:
    if isinstance(raw, list) and len(raw) == 1:  # parse_qs-style form values
        raw = raw[0]
    if not isinstance(raw, str):
        raise PayloadError("payload", "a JSON string", raw)
    try:
        return body_object(json_input.loads(raw))
    except (ValueError, RecursionError):
        raise PayloadError("payload", "a JSON string", raw) from None


def _event_callback(body: dict[str, Any], bot_id: str, received_at: datetime) -> list[Event]:
    event = get(body, "event", "dict", "", required=True)
    if get(event, "type", "str", "event", required=True) != "message":
        return []
    subtype = get(event, "subtype", "str", "event")
    if subtype not in USER_SUBTYPES and subtype != "bot_message":
        return []
    author = get(event, "user", "str", "event")
    from_bot = subtype == "bot_message" or event.get("bot_id") is not None or author in _bot_users(body)
    channel = get(event, "channel", "str", "event", required=True)
    ts = get(event, "ts", "str", "event", required=True)
    if from_bot:
        human = get(event, "parent_user_id", "str", "event")
        if not _from_this_app(event, author, body) or not human or human in _bot_users(body):
            return []
        user, direction = human, "outbound"
    else:
        user, direction = get(event, "user", "str", "event", required=True), "inbound"
    return [make(Message, event_id=f"{CHANNEL}:{channel}:{ts}", bot_id=bot_id, channel=CHANNEL,
                 user_id=user_id_for(CHANNEL, user), occurred_at=from_decimal_string(ts, "event.ts"),
                 received_at=received_at,
                 direction=direction, text=slack_text(get(event, "text", "str", "event") or ""),
                 attachments=[_file(f, path) for path, f in items(event, "files", "event")])]


def _bot_users(body: dict[str, Any]) -> set[str]:
    """The app's own bot user ids, from the installation's ``authorizations``."""
    auths = body.get("authorizations")
    return {a["user_id"] for a in auths if isinstance(a, dict) and a.get("is_bot") is True
            and isinstance(a.get("user_id"), str)} if isinstance(auths, list) else set()


def _from_this_app(event: dict[str, Any], author: str | None, body: dict[str, Any]) -> bool:
    """Other apps' bots are neither the user nor us: only this app's replies are outbound."""
    app = body.get("api_app_id")
    profile = event.get("bot_profile")
    apps = [event.get("app_id"), profile.get("app_id") if isinstance(profile, dict) else None]
    return (isinstance(app, str) and app in apps) or (author is not None and author in _bot_users(body))


def _file(f: dict[str, Any], where: str) -> Attachment:
    major = (get(f, "mimetype", "str", where) or "").split("/", 1)[0]
    name = text_of(get(f, "name", "str", where))
    return make(Attachment, type=major if major in ("image", "video", "audio") else "file",
                url=get(f, "url_private", "str", where) or get(f, "permalink", "str", where),
                name=name[:1024] if name else None)


def slack_text(text: str) -> str:
    """What the user saw: Slack's ``&amp; &lt; &gt;`` escapes undone and ``:shortcodes:`` as emoji."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return emoji.emojize(text, language="alias")


def _block_actions(body: dict[str, Any], bot_id: str, received_at: datetime) -> list[Event]:
    user = get(body, "user", "dict", "", required=True)
    uid = user_id_for(CHANNEL, get(user, "id", "str", "user", required=True))
    trigger = get(body, "trigger_id", "str", "", required=True)
    get(body, "actions", "list", "", required=True)
    events: list[Event] = []
    for path, action in items(body, "actions", ""):
        if get(action, "type", "str", path) != "button":
            continue  # selects, date pickers and checkboxes are not button clicks
        action_id = get(action, "action_id", "str", path, required=True)
        label = get(action, "text", "dict", path) or {}
        url = get(action, "url", "str", path)
        ts = get(action, "action_ts", "str", path)
        events.append(make(ButtonClick, event_id=f"{CHANNEL}:action:{trigger}:{action_id}", bot_id=bot_id,
                           channel=CHANNEL, user_id=uid, received_at=received_at,
                           occurred_at=from_decimal_string(ts, f"{path}.action_ts") if ts else received_at,
                           button_type="url" if url else "postback", url=url,
                           title=slack_text(get(label, "text", "str", f"{path}.text") or ""),
                           payload=get(action, "value", "str", path)))
    username = text_of(get(user, "username", "str", "user"))
    if events and username:
        events.append(make(ProfileUpdate, event_id=f"{CHANNEL}:action:{trigger}:profile", bot_id=bot_id,
                           channel=CHANNEL, user_id=uid, occurred_at=events[0].occurred_at, received_at=received_at,
                           profile={"username": username}))
    return events
