"""The demo's conversations as each platform would POST them (see schemas/channels for the shapes).

One renderer per channel: ``native_id()`` makes a user id as the platform spells it, and
``render(person, steps)`` turns one session into ``(when, payload)`` pairs, leaving out what the
platform never reports (Telegram and Messenger bots do not see URL-button clicks; Telegram
delivers no bot messages; Telegram callbacks and LiveChat URL postbacks carry no time, so they
are only made ``live``). Renderers keep per-user ids (chats, threads, message counters) between
sessions, and draw every random id from the generator they were given: same seed, same bytes.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime
from typing import Any

import emoji

from pipeline.demo.data import USER_AGENTS, Button, Person, Step

Rendered = list[tuple[datetime, dict[str, Any]]]


def iso(at: datetime, timespec: str = "milliseconds") -> str:
    return at.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def unix_ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def slug(button: Button) -> str:
    return "".join(c if c.isalnum() else "_" for c in button.title.lower() if c.isascii()).strip("_")


class _Renderer:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.users: dict[str, dict[str, Any]] = {}  # per-user state kept across sessions

    def token(self, n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


class Telegram(_Renderer):
    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.update_id = rng.randint(10**8, 9 * 10**8)
        self.bot = {"id": rng.randint(6 * 10**9, 7 * 10**9), "is_bot": True, "first_name": "Shop Bot",
                    "username": "shop_example_bot"}

    def native_id(self) -> int:
        return self.rng.randint(10**8, 8 * 10**9)

    def render(self, p: Person, steps: list[Step]) -> Rendered:
        user = {"id": p.native_id, "is_bot": False, "first_name": p.first_name, "last_name": p.last_name,
                "username": p.username, "language_code": p.language.split("-")[0]}
        chat = {"id": p.native_id, "first_name": p.first_name, "last_name": p.last_name, "username": p.username,
                "type": "private"}
        state = self.users.setdefault(p.user_id, {"message_id": self.rng.randint(1, 400)})
        out: Rendered = []
        for step in steps:
            state["message_id"] += 1  # bot and user messages share the chat's counter
            if step.kind in ("start", "in"):
                text = f"/start {p.campaign}" if step.kind == "start" else step.text
                out.append((step.at, self._update(message={"message_id": state["message_id"], "from": user,
                                                           "chat": chat, "date": int(step.at.timestamp()),
                                                           "text": text})))
            elif step.kind == "out" and step.buttons:
                keyboard = [[{"text": b.title, "url": b.url} if b.url else {"text": b.title, "callback_data": b.payload}
                             for b in step.buttons]]
                state["prompt"] = {"message_id": state["message_id"], "from": self.bot, "chat": chat,
                                   "date": int(step.at.timestamp()), "text": step.text,
                                   "reply_markup": {"inline_keyboard": keyboard}}
            elif step.kind == "click" and step.live and step.button and not step.button.url:
                out.append((step.at, self._update(callback_query={
                    "id": str(self.rng.getrandbits(63)), "from": user, "message": state.get("prompt"),
                    "chat_instance": str(-self.rng.getrandbits(62)), "data": step.button.payload})))
        return out

    def _update(self, **update: Any) -> dict[str, Any]:
        self.update_id += 1
        return {"update_id": self.update_id, **update}


class Messenger(_Renderer):
    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.page = str(rng.randint(10**14, 10**15 - 1))
        self.app_id = rng.randint(10**14, 10**15 - 1)

    def native_id(self) -> str:
        return str(self.rng.randint(10**15, 10**16 - 1))  # a page-scoped id (PSID)

    def render(self, p: Person, steps: list[Step]) -> Rendered:
        out: Rendered = []
        for step in steps:
            item: dict[str, Any] | None = None
            mid = "m_" + self.token(22, string.ascii_letters + string.digits + "-_")
            if step.kind == "start":  # Get Started from an m.me/<page>?ref=<campaign> link
                item = {"postback": {"mid": mid, "title": "Get Started", "payload": "GET_STARTED",
                                     "referral": {"ref": p.campaign, "source": "SHORTLINK", "type": "OPEN_THREAD"}}}
            elif step.kind == "in":
                item = {"message": {"mid": mid, "text": step.text}}
            elif step.kind == "out":  # the page's own reply comes back as an echo
                item = {"message": {"mid": mid, "is_echo": True, "app_id": self.app_id, "text": step.text}}
            elif step.kind == "click" and step.button and not step.button.url:  # web_url sends nothing
                b = step.button
                quick_reply = {"message": {"mid": mid, "text": b.title, "quick_reply": {"payload": b.payload}}}
                item = quick_reply if self.rng.random() < 0.5 else {
                    "postback": {"mid": mid, "title": b.title, "payload": b.payload}}
            if item is not None:
                sender, recipient = (self.page, p.native_id) if step.kind == "out" else (p.native_id, self.page)
                item = {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": unix_ms(step.at), **item}
                out.append((step.at, {"object": "page", "entry": [
                    {"id": self.page, "time": unix_ms(step.at) + self.rng.randint(40, 900), "messaging": [item]}]}))
        return out


class LiveChat(_Renderer):
    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.organization = self.uuid()
        self.bot_id = "%032x" % rng.getrandbits(128)  # LiveChat bot agents have 32-hex ids
        self.rich = ""  # the last rich message offered, which a click answers

    def native_id(self) -> str:
        return self.uuid()

    def render(self, p: Person, steps: list[Step]) -> Rendered:
        chat_id = self.users.setdefault(p.user_id, {"chat": self.token(10)})["chat"]
        thread, out = self.token(10), []
        for n, step in enumerate((s for s in steps if s.kind != "start"), 1):
            if step.kind == "click" and step.live and step.button:  # v3.6 postback webhook: no time of its own
                b = step.button
                postback = {"id": f"action_{slug(b)}", "toggled": True, "button_type": "url" if b.url else "message",
                            "button_value": b.url or b.payload}
                out.append((step.at, self._envelope("incoming_rich_message_postback", {
                    "user_id": p.native_id, "chat_id": chat_id, "thread_id": thread, "event_id": self.rich,
                    "postback": postback}, p.native_id)))
            elif (event := self._event(p, f"{thread}_{n}", thread, step)) is None:
                continue
            elif not out:  # a new thread of the customer's chat opens with its first event
                chat = self._chat(p, chat_id, thread, step, event)
                out.append((step.at, self._envelope("incoming_chat", {"chat": chat}, p.native_id)))
            else:
                out.append((step.at, self._envelope("incoming_event", {"chat_id": chat_id, "thread_id": thread,
                                                                       "event": event}, p.native_id)))
        return out

    def _event(self, p: Person, event_id: str, thread: str, step: Step) -> dict[str, Any] | None:
        event = {"id": event_id, "type": "message", "visibility": "all", "created_at": iso(step.at, "microseconds"),
                 "author_id": self.bot_id if step.kind == "out" else p.native_id, "text": step.text}
        if step.kind == "out" and step.buttons:  # quick replies: a rich message the customer can click
            self.rich = event_id
            buttons = [{"text": b.title, "type": "url" if b.url else "message", "value": b.url or b.payload,
                        "postback_id": f"action_{slug(b)}", "user_ids": []} for b in step.buttons]
            return {**{k: v for k, v in event.items() if k != "text"}, "type": "rich_message",
                    "template_id": "quick_replies", "elements": [{"title": step.text, "buttons": buttons}]}
        if step.kind == "click" and step.button:
            b = step.button
            if b.url:
                return None  # opened in the browser; only the v3.6 postback webhook (live) reports it
            return {**event, "text": b.title, "postback": {"id": f"action_{slug(b)}", "thread_id": thread,
                                                           "event_id": self.rich, "type": "message",
                                                           "value": b.payload}}
        return event

    def _chat(self, p: Person, chat_id: str, thread: str, first: Step, event: dict[str, Any]) -> dict[str, Any]:
        customer = {"id": p.native_id, "type": "customer", "name": p.name, "created_at": iso(first.at),
                    "visit": {"started_at": iso(first.at, "microseconds"), "referrer": p.referrer, "ip": p.ip,
                              "user_agent": "Mozilla/5.0",
                              "geolocation": {"country": p.country, "country_code": p.country_code, "region": p.region,
                                              "city": p.city, "timezone": p.timezone},
                              "last_pages": [{"opened_at": iso(first.at), "url": p.source_url, "title": "Shop"}]}}
        if p.email:
            customer["email"] = p.email
        return {"id": chat_id, "users": [customer, {"id": self.bot_id, "name": "ShopBot", "type": "agent"}],
                "thread": {"id": thread, "active": True, "created_at": iso(first.at, "microseconds"),
                           "user_ids": [p.native_id, self.bot_id], "events": [event],
                           "properties": {"routing": {"start_url": p.source_url, "referrer": p.referrer}}}}

    def _envelope(self, action: str, payload: dict[str, Any], customer: str) -> dict[str, Any]:
        return {"webhook_id": self.uuid(), "action": action, "organization_id": self.organization,
                "payload": payload, "additional_data": {"chat_presence_user_ids": [customer, self.bot_id]}}


class Slack(_Renderer):
    def __init__(self, rng: random.Random):
        super().__init__(rng)
        self.team, self.app, self.bot_user, self.bot = (p + self.token(10) for p in ("T", "A", "U", "B"))
        self.token_ = self.token(24, string.ascii_letters + string.digits)

    def native_id(self) -> str:
        return "U" + self.token(10)

    def render(self, p: Person, steps: list[Step]) -> Rendered:
        state = self.users.setdefault(p.user_id, {"dm": "D" + self.token(10)})
        out: Rendered = []
        parent: str | None = None
        for step in steps:
            ts = f"{int(step.at.timestamp())}.{step.at.microsecond:06d}"
            base = {"type": "message", "text": _slack_markup(step.text), "ts": ts, "event_ts": ts,
                    "channel": state["dm"], "channel_type": "im", "team": self.team}
            if step.kind == "in":
                parent = parent or ts
                out.append((step.at, self._callback({**base, "client_msg_id": self.uuid(), "user": p.native_id}, step)))
            elif step.kind == "out" and parent:  # the app answers in the user's thread
                event = {**base, "user": self.bot_user, "bot_id": self.bot, "app_id": self.app, "thread_ts": parent,
                         "parent_user_id": p.native_id, "bot_profile": {"id": self.bot, "app_id": self.app,
                                                                         "name": "Shop Bot"}}
                if step.buttons:
                    event["blocks"] = [{"type": "section", "block_id": "prompt",
                                        "text": {"type": "mrkdwn", "text": event["text"]}},
                                       {"type": "actions", "block_id": "choices", "elements": [
                                           self._button(b) for b in step.buttons]}]
                    state["prompt"] = event
                out.append((step.at, self._callback(event, step)))
            elif step.kind == "click" and step.button and state.get("prompt"):
                out.append((step.at, self._block_actions(p, state["dm"], state["prompt"], step.button, ts)))
        return out

    def _block_actions(self, p: Person, dm: str, prompt: dict[str, Any], button: Button, ts: str) -> dict[str, Any]:
        """The interactivity payload of a button in the bot's message (sent form-encoded)."""
        numbers = (self.rng.randint(10**10, 10**11), self.rng.randint(10**10, 10**11))
        trigger = f"{numbers[0]}.{numbers[1]}.{self.rng.getrandbits(128):032x}"
        return {"type": "block_actions", "api_app_id": self.app, "token": self.token_, "trigger_id": trigger,
                "user": {"id": p.native_id, "username": p.username, "name": p.username, "team_id": self.team},
                "container": {"type": "message", "message_ts": prompt["ts"], "channel_id": dm,
                              "is_ephemeral": False, "thread_ts": prompt["thread_ts"]},
                "team": {"id": self.team, "domain": "shop-example"}, "channel": {"id": dm, "name": "directmessage"},
                "message": {k: prompt[k] for k in ("type", "user", "bot_id", "text", "ts", "blocks")},
                "response_url": f"https://hooks.slack.com/actions/{self.team}/{self.rng.getrandbits(40)}/x",
                "actions": [{**self._button(button), "block_id": "choices", "action_ts": ts}]}

    def _button(self, b: Button) -> dict[str, Any]:
        label = {"type": "plain_text", "text": b.title, "emoji": True}
        button = {"type": "button", "action_id": slug(b), "text": label}
        return {**button, "url": b.url} if b.url else {**button, "value": b.payload}

    def _callback(self, event: dict[str, Any], step: Step) -> dict[str, Any]:
        return {"token": self.token_, "team_id": self.team, "api_app_id": self.app, "event": event,
                "type": "event_callback", "event_id": "Ev" + self.token(10), "event_time": int(step.at.timestamp()),
                "authorizations": [{"enterprise_id": None, "team_id": self.team, "user_id": self.bot_user,
                                    "is_bot": True, "is_enterprise_install": False}]}


def _slack_markup(text: str) -> str:
    """How Slack sends what the user typed: ``& < >`` escaped, emoji as ``:shortcodes:``."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return emoji.demojize(text, language="alias")


class Web(_Renderer):
    def native_id(self) -> str:
        return "vis_" + "%012x" % self.rng.getrandbits(48)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{self.rng.getrandbits(64):016x}"

    def render(self, p: Person, steps: list[Step]) -> Rendered:
        state = self.users.setdefault(p.user_id, {"sessions": 0})
        state["sessions"] += 1
        out: Rendered = []
        inbound = 0
        for step in steps:
            event: dict[str, Any] = {"id": self._id("evt"), "occurred_at": iso(step.at), "visitor": {"id": p.native_id}}
            msg_id = self._id("msg")
            if step.kind in ("in", "out"):
                event |= {"type": "message.created", "message": {
                    "id": msg_id, "direction": "inbound" if step.kind == "in" else "outbound", "text": step.text}}
                state["prompt"] = msg_id if step.buttons else state.get("prompt")
            elif step.kind == "click" and step.button:
                b = step.button
                click = {"message_id": state.get("prompt"), "button_id": slug(b), "label": b.title,
                         "kind": "url" if b.url else "postback"}
                click |= {"url": b.url} if b.url else {"payload": b.payload}
                event |= {"type": "button.clicked", "click": click}
            else:
                continue
            events = [event]
            if not out:  # the widget's first event of a visit says where the visitor came from
                event["context"] = {"page_url": p.source_url, "referrer": p.referrer, "ip": p.ip,
                                    "user_agent": self.rng.choice(USER_AGENTS), "integration": "shopify"}
                if state["sessions"] == 1:  # browser language and time zone, GeoIP place
                    event["profile"] = {"language": p.language, "timezone": p.timezone, "country": p.country_code,
                                        "city": p.city, "region": p.region}
            inbound += step.kind == "in"
            if state["sessions"] == 1 and inbound == 2 and step.kind == "in" and p.email:  # the pre-chat form
                events.append({"id": self._id("evt"), "type": "visitor.identified",
                               "occurred_at": iso(step.at), "visitor": {"id": p.native_id},
                               "profile": {"name": p.name, "email": p.email, "username": p.username}})
            out.append((step.at, {"site_id": "site_demo_shop", "events": events}))
        return out


RENDERERS: dict[str, type] = {"telegram": Telegram, "messenger": Messenger, "livechat": LiveChat,
                              "slack": Slack, "web": Web}
