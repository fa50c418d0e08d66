"""`chatlens demo` traffic: deterministic, signed, parseable, and shaped like real sessions."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import emoji
import httpx
import pytest

from pipeline.core.bots import load_bots
from pipeline.demo.traffic import HISTORY, DemoRequest, decode, plan, send
from pipeline.core.signatures import verify
from schemas.channels import PARSERS
from schemas.events import CHANNELS, ButtonClick, Message, ProfileUpdate

BOTS = load_bots(Path(__file__).resolve().parents[2] / "bots.example.toml")
DEMO = BOTS["demo"]  # every channel configured, 10-minute window
NOW = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
SEED = 20261123


@pytest.fixture(scope="module")
def requests() -> list[DemoRequest]:
    return plan(DEMO, users=60, seed=SEED, now=NOW)


def events_of(request: DemoRequest, bot=DEMO, now=NOW):
    return PARSERS[request.channel](decode(request), bot_id=bot.bot_id, received_at=now)


@pytest.fixture(scope="module")
def events(requests):
    return [(request, event) for request in requests for event in events_of(request)]


def test_same_seed_gives_the_same_bytes_and_another_seed_other_traffic(requests):
    again = plan(DEMO, users=60, seed=SEED, now=NOW)
    assert [(r.body, r.headers) for r in again] == [(r.body, r.headers) for r in requests]
    assert [r.body for r in plan(DEMO, users=60, seed=SEED + 1, now=NOW)] != [r.body for r in requests]


def test_every_configured_channel_gets_traffic_and_every_user_one_channel(requests):
    assert {r.channel for r in requests} == set(CHANNELS)
    users = {r.user_id for r in requests}
    assert len(users) == 60
    assert all(r.user_id.startswith(f"{r.channel}:") for r in requests)


def test_every_request_is_signed_for_the_bot_and_parses_into_the_events_it_promises(requests):
    for request in requests:
        verify(request.channel, request.headers, request.body, DEMO.channel_secrets(request.channel), now=NOW)
        parsed = events_of(request)
        assert parsed, f"{request.channel} request gives no event: {request.body[:200]!r}"
        assert len(parsed) == request.events
        assert {e.user_id for e in parsed} == {request.user_id}


def test_requests_come_in_time_order_within_the_last_two_weeks(requests, events):
    assert [r.at for r in requests] == sorted(r.at for r in requests)
    assert all(NOW - HISTORY <= r.at <= NOW for r in requests)
    assert all(NOW - HISTORY - timedelta(seconds=1) <= e.occurred_at <= NOW for _, e in events)


@pytest.mark.parametrize("minutes", [0.5, 10, 30, 24 * 60])
def test_sessions_are_separated_by_more_than_the_window_and_messages_inside_it_are_not(minutes):
    bot = DEMO.model_copy(update={"inactivity_minutes": minutes})
    window = timedelta(minutes=minutes)
    times: dict[str, dict[int, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for request in plan(bot, users=40, seed=minutes * 7, now=NOW):
        times[request.user_id][request.session] += [e.occurred_at for e in events_of(request, bot)]
    assert any(len(sessions) > 1 for sessions in times.values())
    for user, sessions in times.items():
        assert 1 <= len(sessions) <= 4
        spans = [(min(t), max(t)) for _, t in sorted(sessions.items())]
        for number, at in sessions.items():
            at = sorted(at)
            assert all(b - a < window for a, b in zip(at, at[1:])), f"{user} session {number} splits"
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start - end > window, f"{user}: a pause of {start - end} does not end the session"


def test_traffic_has_replies_clicks_of_both_kinds_emoji_and_mixed_moods(events):
    messages = [e for _, e in events if isinstance(e, Message)]
    clicks = [(r.channel, e) for r, e in events if isinstance(e, ButtonClick)]
    assert {m.direction for m in messages} == {"inbound", "outbound"}
    assert {c for c, e in clicks if e.button_type == "url"} >= {"slack", "web", "livechat"}
    assert {c for c, e in clicks if e.button_type == "postback"} == set(CHANNELS)
    assert all(e.url.startswith("https://") for _, e in clicks if e.button_type == "url")
    inbound = [m.text for m in messages if m.direction == "inbound"]
    assert sum(emoji.emoji_count(t) > 0 for t in inbound) > len(inbound) / 10
    assert {"so slow!", "this is broken 😡", "thanks 😍"} & set(inbound)
    assert any(t.endswith("?") for t in inbound)
    outbound_channels = {r.channel for r, e in events if isinstance(e, Message) and e.direction == "outbound"}
    assert outbound_channels == {"messenger", "livechat", "slack", "web"}  # Telegram bots never see their own


def test_each_platform_sends_the_profile_it_really_has(events):
    fields: dict[str, set[str]] = defaultdict(set)
    for request, event in events:
        if isinstance(event, ProfileUpdate):
            fields[request.channel] |= {k for k, v in event.profile.model_dump().items() if v}
    rich = {"name", "email", "country", "city", "region", "timezone", "referrer", "source", "ip"}
    assert fields["web"] >= rich | {"language", "username", "integration"}
    assert fields["livechat"] >= rich
    assert fields["telegram"] == {"name", "username", "language", "referrer"}  # referrer: /start deep links
    assert fields["slack"] == {"username"}
    assert fields["messenger"] == {"referrer"}  # m.me referrals; names need the Graph API


def test_no_request_for_a_channel_without_secrets():
    only_two = DEMO.model_copy(update={"messenger": None, "livechat": None, "slack": None})
    requests = plan(only_two, users=30, seed=1, now=NOW)
    assert {r.channel for r in requests} == {"telegram", "web"}
    assert plan(BOTS["acme"], users=30, seed=1, now=NOW) == []


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        plan(DEMO, users=1, seed=1, now=datetime(2026, 11, 23, 10, 0))


# --- send: against a stand-in server (httpx.MockTransport) and the real webhook routes
def test_send_retries_503_counts_statuses_per_channel_and_keeps_each_users_order(requests):
    subset = requests[:120]
    refusals: dict[bytes, int] = defaultdict(int)
    seen: list[DemoRequest] = []
    by_body = {r.body: r for r in subset}

    def answer(http_request: httpx.Request) -> httpx.Response:
        body = http_request.content
        if len(seen) % 7 == 0 and refusals[body] < 2:  # Kafka briefly unavailable, twice
            refusals[body] += 1
            return httpx.Response(503, headers={"Retry-After": "5"}, json={"error": "kafka_unavailable"})
        request = by_body[body]
        assert http_request.url.path == request.path
        seen.append(request)
        return httpx.Response(200, json={"accepted": request.events})

    progress = []
    report = asyncio.run(send(subset, "http://chatlens.test", concurrency=4, backoff=0,
                              on_progress=lambda done, total: progress.append((done, total)),
                              transport=httpx.MockTransport(answer)))
    assert report.ok and report.total == report.done == len(subset)
    assert report.by_status == {200: len(subset)}
    assert {c: sum(s.values()) for c, s in report.by_channel.items()} == {
        c: sum(r.channel == c for r in subset) for c in {r.channel for r in subset}}
    assert report.retries == sum(refusals.values()) > 0
    assert report.expected_events == report.accepted_events == sum(r.events for r in subset)
    assert progress[-1] == (len(subset), len(subset))
    for user in {r.user_id for r in subset}:
        assert [r for r in seen if r.user_id == user] == [r for r in subset if r.user_id == user]


def test_send_reports_what_never_succeeded():
    request = plan(DEMO, users=1, seed=3, now=NOW)[0]

    def down(http_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    report = asyncio.run(send([request], "http://chatlens.test", retries=2, backoff=0,
                              transport=httpx.MockTransport(down)))
    assert not report.ok and report.by_status == {0: 1} and report.retries == 2
    assert report.accepted_events == 0 and "no answer" in report.errors[0]
    always_503 = httpx.MockTransport(lambda r: httpx.Response(503, json={"error": "kafka_unavailable"}))
    report = asyncio.run(send([request], "http://chatlens.test", retries=1, backoff=0, transport=always_503))
    assert report.by_status == {503: 1} and report.retries == 1 and "kafka_unavailable" in report.errors[0]


def test_the_webhook_routes_accept_every_demo_request(tmp_path):
    from consumers.memory import MemoryEventStore
    from pipeline.kafka.publisher import MemoryPublisher
    from pipeline.services import Services
    from pipeline.settings import Settings
    from pipeline.http.app import create_api

    services = Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path), bots=BOTS, publisher=MemoryPublisher(),
                        store=MemoryEventStore())
    requests = plan(DEMO, users=15, seed=5, now=datetime.now(UTC))  # signatures must be fresh
    transport = httpx.ASGITransport(app=create_api(services))
    report = asyncio.run(send(requests, "http://chatlens.test", transport=transport))
    assert report.ok, report.errors
    assert len(services.publisher.events) == report.accepted_events == report.expected_events
    assert json.loads(json.dumps(report.by_status)) == {"200": len(requests)}
