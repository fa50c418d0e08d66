"""LiveChat (Text platform) webhooks, v3.5 and v3.6 -> canonical events.

Envelope ``{"webhook_id", "secret_key", "action", "organization_id", "payload", "additional_data"}``.
Handled actions:
* ``incoming_chat``: the chat's thread events, plus the customer's profile (``users[]`` entry of
  type customer: name, e-mail, avatar, and the visit: IP, referrer, geolocation; ``visit`` since
  v3.6, ``last_visit`` before; source URL from the ``routing.start_url`` property, else the first
  visited page);
* ``incoming_event``: one event (message, file, rich_message, filled_form);
* ``incoming_rich_message_postback``: a rich-message button click (``button_type: "url"`` with
  ``button_value`` = the URL since v3.6, otherwise a postback); a toggle-off is not a click;
* ``user_added_to_chat`` with a customer: their profile.
Other actions, agent-only events (``visibility``/``recipients`` = agents: internal notes) and
system events are skipped; edits are not new messages.

Direction: the customer is inbound, agents and bots outbound. ``incoming_event`` names only the
``author_id``: customer ids are UUIDs, agents' are e-mails and bots' 32-hex strings. An outbound
event is attributed to the UUID in ``additional_data.chat_presence_user_ids``; when none is there
the event cannot be attributed and is skipped.
Ids: ``livechat:<chat_id>:<thread_id>:<event id>`` (event ids are unique per thread). Times are
RFC 3339 strings; postbacks carry none and take ``received_at``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from schemas.channels.common import body_object, from_iso, get, items, make, text_of
from schemas.events import Attachment, ButtonClick, Event, Message, ProfileUpdate, user_id_for

CHANNEL = "livechat"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def is_customer_id(user_id: str) -> bool:
    return bool(_UUID.fullmatch(user_id))


def parse(body: Any, *, bot_id: str, received_at: datetime) -> list[Event]:
    body = body_object(body)
    handler = _ACTIONS.get(get(body, "action", "str", "", required=True))
    if handler is None:
        return []
    payload = get(body, "payload", "dict", "", required=True)
    extra = get(body, "additional_data", "dict", "") or {}
    present = [u for u in get(extra, "chat_presence_user_ids", "list", "additional_data") or []
               if isinstance(u, str) and is_customer_id(u)]
    ctx = {"bot_id": bot_id, "received_at": received_at, "customer": present[0] if present else None}
    return handler(payload, ctx)


def _incoming_chat(payload: dict[str, Any], ctx: dict[str, Any]) -> list[Event]:
    chat = get(payload, "chat", "dict", "payload", required=True)
    chat_id = get(chat, "id", "str", "payload.chat", required=True)
    user_path, customer = next(((p, u) for p, u in items(chat, "users", "payload.chat")
                                if u.get("type") == "customer"), ("", None))
    if customer is not None:
        ctx = {**ctx, "customer": get(customer, "id", "str", user_path, required=True)}
    threads = items(chat, "threads", "payload.chat")  # list_chats shape; the webhook sends `thread`
    if chat.get("thread") is not None:
        threads = [("payload.chat.thread", get(chat, "thread", "dict", "payload.chat"))]
    events: list[Event] = []
    for where, thread in threads:
        thread_id = get(thread, "id", "str", where, required=True)
        for path, event in items(thread, "events", where):
            events += _event(event, path, chat_id, thread_id, ctx)
        if customer is not None:
            profile = _customer_profile(customer, user_path, thread, chat)
            when = get(thread, "created_at", "str", where)
            events += _profile_event(profile, f"{CHANNEL}:{chat_id}:{thread_id}:profile:{ctx['customer']}",
                                     from_iso(when, f"{where}.created_at") if when else ctx["received_at"], ctx)
    return events


def _incoming_event(payload: dict[str, Any], ctx: dict[str, Any]) -> list[Event]:
    chat_id = get(payload, "chat_id", "str", "payload", required=True)
    thread_id = get(payload, "thread_id", "str", "payload", required=True)
    return _event(get(payload, "event", "dict", "payload", required=True), "payload.event", chat_id, thread_id, ctx)


def _event(ev: dict[str, Any], where: str, chat_id: str, thread_id: str, ctx: dict[str, Any]) -> list[Event]:
    event_id = get(ev, "id", "str", where, required=True)
    kind = get(ev, "type", "str", where, required=True)
    if kind not in ("message", "file", "rich_message", "filled_form"):
        return []
    audience = get(ev, "visibility", "str", where) or get(ev, "recipients", "str", where)
    if audience == "agents":
        return []  # an internal note the customer never sees
    author = get(ev, "author_id", "str", where, required=True)
    inbound = author == ctx["customer"] or is_customer_id(author)
    customer = author if inbound else ctx["customer"]
    if customer is None:
        return []  # an agent's or bot's event in a chat whose customer we cannot name
    common = {"bot_id": ctx["bot_id"], "channel": CHANNEL, "user_id": user_id_for(CHANNEL, customer),
              "received_at": ctx["received_at"],
              "occurred_at": from_iso(get(ev, "created_at", "str", where, required=True), f"{where}.created_at")}
    key = f"{CHANNEL}:{chat_id}:{thread_id}:{event_id}"
    if kind == "filled_form":  # pre-chat survey: another source of name and e-mail
        fields = {get(f, "type", "str", p): get(f, "answer", "str", p) if isinstance(f.get("answer"), str) else None
                  for p, f in items(ev, "fields", where)}
        profile = {"name": text_of(fields.get("name")), "email": text_of(fields.get("email"))}
        return _profile_event(profile, key, common["occurred_at"], {**ctx, "customer": customer}) if inbound else []
    text, attachments = get(ev, "text", "str", where) or "", []
    if kind == "file":
        attachments.append(_file(ev, where))
    elif kind == "rich_message":
        text, attachments = _rich(ev, where)
    events: list[Event] = [make(Message, event_id=key, direction="inbound" if inbound else "outbound",
                                text=text, attachments=attachments, **common)]
    postback = get(ev, "postback", "dict", where) if kind == "message" else None
    if postback is not None and inbound:  # a rich-message button that posts a message
        p = f"{where}.postback"
        events.append(_click(chat_id, get(postback, "thread_id", "str", p) or thread_id,
                             get(postback, "event_id", "str", p, required=True),
                             get(postback, "id", "str", p, required=True), customer,
                             get(postback, "type", "str", p), get(postback, "value", "str", p),
                             common["occurred_at"], ctx))
    return events


def _file(ev: dict[str, Any], where: str) -> Attachment:
    content_type = get(ev, "content_type", "str", where) or ""
    major = content_type.split("/", 1)[0]
    name = text_of(get(ev, "name", "str", where))
    return make(Attachment, type=major if major in ("image", "video", "audio") else "file",
                url=get(ev, "url", "str", where), name=name[:1024] if name else None)


def _rich(ev: dict[str, Any], where: str) -> tuple[str, list[Attachment]]:
    """Cards and quick replies: their titles and subtitles are the text, their images attachments."""
    lines, attachments = [], []
    for path, element in items(ev, "elements", where):
        lines += [t for k in ("title", "subtitle") if (t := text_of(get(element, k, "str", path)))]
        image = get(element, "image", "dict", path)
        if image is not None:
            attachments.append(make(Attachment, type="image", url=get(image, "url", "str", f"{path}.image")))
    return "\n".join(lines), attachments


def _rich_postback(payload: dict[str, Any], ctx: dict[str, Any]) -> list[Event]:
    user = get(payload, "user_id", "str", "payload", required=True)
    postback = get(payload, "postback", "dict", "payload", required=True)
    if get(postback, "toggled", "bool", "payload.postback") is False:
        return []  # un-toggling a button is not a click
    return [_click(get(payload, "chat_id", "str", "payload", required=True),
                   get(payload, "thread_id", "str", "payload", required=True),
                   get(payload, "event_id", "str", "payload", required=True),
                   get(postback, "id", "str", "payload.postback", required=True), user,
                   get(postback, "button_type", "str", "payload.postback"),
                   get(postback, "button_value", "str", "payload.postback"), ctx["received_at"], ctx)]


def _click(chat_id: str, thread_id: str, rich_event_id: str, postback_id: str, user: str,
           button_type: str | None, value: str | None, when: datetime, ctx: dict[str, Any]) -> Event:
    """Same id from the postback webhook and from the message it posts, so the click counts once."""
    is_url = button_type == "url"
    return make(ButtonClick, event_id=f"{CHANNEL}:{chat_id}:{thread_id}:{rich_event_id}:postback:{postback_id}:{user}",
                bot_id=ctx["bot_id"], channel=CHANNEL, user_id=user_id_for(CHANNEL, user), occurred_at=when,
                received_at=ctx["received_at"],
                button_type="url" if is_url else "postback", url=value if is_url else None,
                payload=None if is_url else (value or postback_id))


def _user_added(payload: dict[str, Any], ctx: dict[str, Any]) -> list[Event]:
    user = get(payload, "user", "dict", "payload", required=True)
    if user.get("type") != "customer":
        return []
    chat_id = get(payload, "chat_id", "str", "payload", required=True)
    thread_id = get(payload, "thread_id", "str", "payload") or ""
    customer = get(user, "id", "str", "payload.user", required=True)
    profile = _customer_profile(user, "payload.user", None, None)
    return _profile_event(profile, f"{CHANNEL}:{chat_id}:{thread_id}:added:{customer}", ctx["received_at"],
                          {**ctx, "customer": customer})


def _customer_profile(user: dict[str, Any], where: str, thread: dict[str, Any] | None,
                      chat: dict[str, Any] | None) -> dict[str, str | None]:
    visit_key = "visit" if user.get("visit") is not None else "last_visit"
    visit = get(user, visit_key, "dict", where)
    if visit is None and thread is not None:  # v3.6 threads also carry the visit
        visit, visit_key, where = get(thread, "customer_visit", "dict", "thread"), "customer_visit", "thread"
    visit = visit or {}
    vpath = f"{where}.{visit_key}"
    geo = get(visit, "geolocation", "dict", vpath) or {}
    routing = _routing(thread) or _routing(chat)
    pages = [get(p, "url", "str", path) for path, p in items(visit, "last_pages", vpath)]

    def s(obj: dict[str, Any], key: str, path: str) -> str | None:
        return text_of(get(obj, key, "str", path))

    return {"name": s(user, "name", where), "email": s(user, "email", where), "avatar": s(user, "avatar", where),
            "ip": s(visit, "ip", vpath), "referrer": s(visit, "referrer", vpath) or routing.get("referrer"),
            "country": s(geo, "country", f"{vpath}.geolocation"), "city": s(geo, "city", f"{vpath}.geolocation"),
            "region": s(geo, "region", f"{vpath}.geolocation"),
            "timezone": s(geo, "timezone", f"{vpath}.geolocation"),
            "source": routing.get("start_url") or next((text_of(p) for p in pages if text_of(p)), None)}


def _routing(holder: dict[str, Any] | None) -> dict[str, str]:
    """The ``routing`` property namespace (``start_url``, ``referrer``) of a thread or chat."""
    props = holder.get("properties") if isinstance(holder, dict) else None
    routing = props.get("routing") if isinstance(props, dict) else None
    if not isinstance(routing, dict):
        return {}
    return {k: v.strip() for k in ("start_url", "referrer") if isinstance(v := routing.get(k), str) and v.strip()}


def _profile_event(profile: dict[str, str | None], key: str, when: datetime, ctx: dict[str, Any]) -> list[Event]:
    profile = {k: v for k, v in profile.items() if v}
    if not profile or not ctx["customer"]:
        return []
    return [make(ProfileUpdate, event_id=key, bot_id=ctx["bot_id"], channel=CHANNEL, occurred_at=when,
                 received_at=ctx["received_at"],
                 user_id=user_id_for(CHANNEL, ctx["customer"]), profile=profile)]


_ACTIONS = {"incoming_chat": _incoming_chat, "incoming_event": _incoming_event,
            "incoming_rich_message_postback": _rich_postback, "user_added_to_chat": _user_added}
