"""``chatlens demo``: realistic, signed webhook traffic for every channel a bot has secrets for.

:func:`plan` is pure and deterministic for a seed: people spread over the configured channels,
each with 1-4 sessions in the 14 days before ``now``, separated by pauses longer than the bot's
inactivity window, messages inside a session seconds to minutes apart (always well inside the
window, even when a platform leaves some steps out). About one user in five is still chatting
at ``now``: their last session ends with a click that Telegram and LiveChat report without a
time of its own, so chatlens dates it at receipt, which is then inside that session.
:func:`send` POSTs the requests to ``{base_url}/webhooks/{channel}/{bot_id}``, one user's
requests in order, retrying 503s with back-off. Slack and web signatures are made at ``now``
and expire 5 minutes later (their replay window): plan right before sending.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx

from pipeline.core.bots import Bot
from pipeline.demo.channels import RENDERERS
from pipeline.demo.data import (CAMPAIGNS, CHANNEL_WEIGHTS, FIRST_NAMES, GREETINGS, LAST_NAMES, LINES, PAGES,
                                PLACES, POSTBACK_BUTTONS, PROMPTS, REFERRERS, REPLIES, URL_BUTTONS, Person, Step)
from pipeline.core.signatures import sign_web, signed_request
from schemas.channels import PARSERS
from schemas.events import CHANNELS

HISTORY = timedelta(days=14)
LIVE_SHARE = 0.2  # users whose last session is going on at `now`


@dataclass(frozen=True)
class DemoRequest:
    """One webhook as the platform would POST it, and what chatlens should make of it."""

    channel: str
    bot_id: str
    user_id: str  # canonical "<channel>:<platform id>"
    session: int  # which of the user's sessions (0-based) it belongs to
    at: datetime  # when it happens in the story (UTC)
    body: bytes
    headers: dict[str, str]
    events: int  # canonical events the channel's parser makes of the body

    @property
    def path(self) -> str:
        return f"/webhooks/{self.channel}/{self.bot_id}"


@dataclass
class DemoReport:
    """What :func:`send` did. Status 0 means no answer (connection refused, timeout)."""

    total: int = 0
    by_channel: dict[str, Counter[int]] = field(default_factory=dict)  # channel -> status -> requests
    expected_events: int = 0  # the parsers' output for every request sent
    accepted_events: int = 0  # what the server said it accepted (``accepted`` of 2xx answers)
    retries: int = 0
    errors: list[str] = field(default_factory=list)  # the first few failures, for the user to read

    @property
    def done(self) -> int:
        return sum(self.by_status.values())

    @property
    def by_status(self) -> Counter[int]:
        return sum(self.by_channel.values(), Counter())

    @property
    def ok(self) -> bool:
        return self.done == self.total and all(200 <= status < 300 for status in self.by_status)


def decode(request: DemoRequest) -> object:
    """The body as chatlens's webhook route hands it to the parser (JSON, or Slack's form)."""
    text = request.body.decode()
    if request.headers.get("Content-Type") == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return json.loads(text)


def plan(bot: Bot, *, users: int, seed: int, now: datetime) -> list[DemoRequest]:
    """Every request of the demo story, in time order; none for channels without secrets."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    channels = [c for c in CHANNELS if bot.channel_secrets(c)]
    if not channels or users <= 0:
        return []
    rng = random.Random(seed)
    window = timedelta(minutes=bot.inactivity_minutes)
    renderers = {c: RENDERERS[c](random.Random(rng.getrandbits(64))) for c in channels}
    requests = []
    for index, channel in enumerate(_assign(rng, channels, users)):
        person = _person(rng, index, channel, renderers[channel].native_id())
        for number, steps in enumerate(_sessions(rng, window, now)):
            for at, payload in renderers[channel].render(person, steps):
                requests.append(_request(bot, channel, person.user_id, number, at, payload, now, rng))
    return sorted(requests, key=lambda r: r.at)


def _assign(rng: random.Random, channels: list[str], users: int) -> list[str]:
    """Every configured channel gets a user first, the rest by each channel's usual share."""
    weights = [CHANNEL_WEIGHTS[c] for c in channels]
    picks = channels[:users] + rng.choices(channels, weights, k=max(0, users - len(channels)))
    rng.shuffle(picks)
    return picks


def _person(rng: random.Random, index: int, channel: str, native_id: str | int) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    language, country, code, region, city, timezone = rng.choice(PLACES)
    handle = "".join(c for c in f"{first}{last}".lower() if c.isascii() and c.isalpha())
    username = (f"{handle[:12]}{rng.randint(1, 99)}" if rng.random() < 0.6
                else f"{handle[:1]}_{handle[len(first):][:10]}")
    return Person(index=index, channel=channel, native_id=native_id, first_name=first, last_name=last,
                  username=username, email=f"{username}@example.com" if rng.random() < 0.6 else None,
                  language=language, country=country, country_code=code, region=region, city=city,
                  timezone=timezone, ip=f"203.0.113.{rng.randint(1, 254)}", referrer=rng.choice(REFERRERS),
                  source_url=rng.choice(PAGES), campaign=rng.choice(CAMPAIGNS))


def _sessions(rng: random.Random, window: timedelta, now: datetime) -> list[list[Step]]:
    """1-4 sessions, one per equal slice of the last 14 days, each starting in its slice's first
    half: the next one starts at least 1.75 days later, longer than any window (<= 24 h) plus a
    session (< 1 h). A live user's last session instead ends at ``now``."""
    count, live = rng.randint(1, 4), rng.random() < LIVE_SHARE
    slot = HISTORY / count
    sessions = []
    for number in range(count):
        is_live = live and number == count - 1
        script = _script(rng, first=number == 0, live=is_live)
        offsets = _offsets(rng, script, window)
        start = now - offsets[-1] if is_live else now - HISTORY + slot * number + slot / 2 * rng.random()
        last = len(script) - 1
        sessions.append([Step(kind, start + offsets[i], text, buttons, button, live=is_live and i == last)
                         for i, (kind, text, buttons, button) in enumerate(script)])
    return sessions


def _script(rng: random.Random, *, first: bool, live: bool) -> list[tuple]:
    """(kind, text, buttons offered, button pressed) in order; always at least one user message."""
    mood = rng.choice(list(LINES))
    steps: list[tuple] = [("start", "", (), None)] if first and rng.random() < 0.5 else []
    opener = rng.choice(GREETINGS) if rng.random() < 0.6 else rng.choice(LINES["curious"])
    steps += [("in", opener, (), None), ("out", rng.choice(REPLIES["greeting"]), (), None)]
    for _ in range(rng.randint(1, 3)):
        steps += [("in", rng.choice(LINES[mood]), (), None), ("out", rng.choice(REPLIES[mood]), (), None)]
        if rng.random() < 0.5 or live:  # a live session ends on an offer the user is answering
            prompt = rng.choice(PROMPTS)
            offered = (rng.choice(URL_BUTTONS), *rng.sample(POSTBACK_BUTTONS, rng.randint(1, 2)))
            steps.append(("out", prompt, offered, None))
            if rng.random() < 0.7 or live:
                steps.append(("click", prompt, offered, rng.choice(offered)))
        if live:
            break
    return steps


def _offsets(rng: random.Random, script: list[tuple], window: timedelta) -> list[timedelta]:
    """Time from the session's start to each step, to the millisecond. A user takes seconds to
    minutes (at most a quarter of the window), the bot answers within seconds; a platform that
    leaves out bot messages and clicks still shows gaps under ~2.5 quarters of the window."""
    longest = min(150.0, window.total_seconds() / 4)
    offsets, total = [], 0.0
    for i, (kind, *_) in enumerate(script):
        if i:
            high = min(4.0, longest / 4) if kind == "out" else longest
            total += rng.uniform(min(1.0, high / 2), high)
        offsets.append(timedelta(milliseconds=round(total * 1000)))
    return offsets


def _request(bot: Bot, channel: str, user_id: str, session: int, at: datetime, payload: dict, now: datetime,
             rng: random.Random) -> DemoRequest:
    secrets = bot.channel_secrets(channel)
    if channel == "web":  # signed_request would draw a random message id: keep it seeded
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} | sign_web(
            body, secrets, now=now, msg_id="msg_" + "%024x" % rng.getrandbits(96))
    else:
        body, headers = signed_request(channel, payload, secrets, now=now)
    request = DemoRequest(channel, bot.bot_id, user_id, session, at, body, headers, events=0)
    return replace(request, events=len(PARSERS[channel](decode(request), bot_id=bot.bot_id, received_at=now)))


async def send(requests: Iterable[DemoRequest], base_url: str, *, concurrency: int = 8,
               on_progress: Callable[[int, int], None] | None = None, retries: int = 5, backoff: float = 0.5,
               timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None) -> DemoReport:
    """POST every request; ``concurrency`` users at a time, each user's requests in order (so
    their events reach Kafka in story order). A 503 or no answer is retried ``retries`` times
    after ``backoff`` seconds, doubling. ``on_progress(done, total)`` follows every request."""
    lanes: dict[str, list[DemoRequest]] = {}
    for request in requests:
        lanes.setdefault(request.user_id, []).append(request)
    pending = deque(lanes.values())
    report = DemoReport(total=sum(len(lane) for lane in pending))

    async def worker(client: httpx.AsyncClient) -> None:
        while pending:
            for request in pending.popleft():
                status, accepted = await _post(client, request, report, retries, backoff)
                report.by_channel.setdefault(request.channel, Counter())[status] += 1
                report.expected_events += request.events
                report.accepted_events += accepted
                if on_progress:
                    on_progress(report.done, report.total)

    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport) as client:
        await asyncio.gather(*(worker(client) for _ in range(max(1, concurrency))))
    return report


async def _post(client: httpx.AsyncClient, request: DemoRequest, report: DemoReport, retries: int,
                backoff: float) -> tuple[int, int]:
    """The final status (0: no answer) and the number of events the server accepted."""
    for attempt in range(retries + 1):
        try:
            response = await client.post(request.path, content=request.body, headers=request.headers)
            status, problem = response.status_code, response.text[:300]
        except httpx.TransportError as e:
            status, problem = 0, f"{type(e).__name__}: {e}"
        if status not in (0, 503) or attempt == retries:
            break
        report.retries += 1
        await asyncio.sleep(backoff * 2**attempt)
    if 200 <= status < 300:
        try:
            accepted = response.json().get("accepted", 0)
        except (ValueError, AttributeError):
            accepted = 0
        return status, accepted if isinstance(accepted, int) else 0
    if len(report.errors) < 10:
        report.errors.append(f"{request.channel} {request.path} -> {status or 'no answer'}: {problem}")
    return status, 0
