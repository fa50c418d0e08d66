"""Hostile input found by a probe of a running worker: each answer is a clear 4xx, never a 500, and what an
authenticated sender sent is kept on the dead-letter topic."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.memory import MemoryEventStore
from pipeline.core.bots import load_bots
from pipeline.core.signatures import sign_livechat, sign_messenger, sign_slack, sign_telegram, sign_web
from pipeline.http.app import create_api
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from queries.columns import FilterError
from queries.cursors import decode_cursor
from schemas.filters import Sort

BOTS = load_bots(Path(__file__).resolve().parents[2] / "bots.example.toml")
DEMO = BOTS["demo"]
AUTH = {"Authorization": "Bearer demo-api-key-change-me", "Content-Type": "application/json"}
DEPTHS = [100, 5000]   # past chatlens's limit (64), and past Python's recursion limit


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def services(tmp_path):
    return Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path, CHATLENS_ADMIN_KEY="admin-key"), bots=BOTS,
                    publisher=MemoryPublisher(), store=MemoryEventStore())


@pytest.fixture
def client(services):
    with TestClient(create_api(services), raise_server_exceptions=False) as client:
        yield client


def signed_raw(channel: str, body: bytes) -> dict[str, str]:
    secrets, now = DEMO.channel_secrets(channel), datetime.now(UTC)
    sign = {"telegram": lambda: sign_telegram(body, secrets), "messenger": lambda: sign_messenger(body, secrets),
            "slack": lambda: sign_slack(body, secrets, now=now), "web": lambda: sign_web(body, secrets, now=now)}
    return {"Content-Type": "application/json", **sign[channel]()}


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("channel", ["telegram", "messenger", "slack", "web"])
def test_a_signed_deeply_nested_webhook_is_a_400_and_dead_lettered(client, services, channel, depth):
    body = b'{"update_id": 1, "entry": ' + nested(depth) + b"}"
    response = client.post(f"/webhooks/{channel}/demo", content=body, headers=signed_raw(channel, body))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_payload"
    assert [letter["source"] for letter in services.publisher.dead_letters] == [f"webhook:{channel}"]
    assert services.publisher.events == []
    assert client.get("/health").status_code == 200   # the same connection serves on


@pytest.mark.parametrize("depth", DEPTHS)
def test_deeply_nested_events_are_a_400_and_dead_lettered(client, services, depth):
    body = b'{"kind": "message", "event_id": "e1", "user_id": "web:u", "occurred_at": "2026-01-01T00:00:00Z", ' \
           b'"direction": "inbound", "text": "hi", "deep": ' + nested(depth) + b"}"
    response = client.post("/v1/bots/demo/events", content=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert [letter["source"] for letter in services.publisher.dead_letters] == ["events-api"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_search_cursor_is_refused_as_not_a_cursor(depth):
    cursor = base64.urlsafe_b64encode(nested(depth)).decode()
    with pytest.raises(FilterError):
        decode_cursor(cursor, Sort(column="last_seen", direction="desc"))


@pytest.mark.parametrize("path,body", [
    ("/v1/bots/demo/users/search", '{"limit": NaN}'),
    ("/v1/bots/demo/users/search", '{"limit": Infinity}'),
    ("/v1/bots/demo/users/count", '{"filter": {"column": "sessions", "function": "greater_than", "value": NaN}}'),
    ("/v1/bots/demo/users/search", '{"filter": {"column": "sessions", "function": "between", "value": [1, -Infinity]}}'),
    ("/v1/bots/demo/settings", '{"inactivity_minutes": NaN}'),
    ("/v1/bots/demo/segments", '{"name": "x", "kind": "dynamic", "filter": {"column": "sessions", '
                               '"function": "greater_than", "value": NaN}}'),
    ("/v1/bots/demo/exports", '{"limit": NaN}'),
    ("/v1/bots/demo/users/actions", '{"action": "add_tag", "tag": "x", "user_ids": ["web:a"], "limit": NaN}'),
])
def test_nan_or_infinity_in_a_validated_body_is_a_422_that_says_where(client, path, body):
    method = client.put if path.endswith("/settings") else client.post
    response = method(path, content=body, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_a_signed_livechat_body_with_a_4301_digit_integer_is_a_400_and_dead_lettered(client, services):
    payload = sign_livechat({"action": "incoming_event", "payload": {"chat_id": "C1"}}, DEMO.channel_secrets("livechat"))
    body = b'{"secret_key": "%s", "organization_id": %s, "action": "incoming_event"}' % (
        payload["secret_key"].encode(), b"1" * 4301)
    response = client.post("/webhooks/livechat/demo", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert [letter["source"] for letter in services.publisher.dead_letters] == ["webhook:livechat"]


@pytest.mark.parametrize("path", ["/", "/ui/", "/ui/app.css", "/health", "/docs", "/openapi.json"])
def test_every_response_carries_the_browser_security_headers(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY" and response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    if path != "/docs":
        assert "'unsafe-inline'" not in policy and "script-src 'self' 'sha256-" in policy


def test_dead_letters_keep_no_channel_secret(client, services):
    telegram = b'{"update_id": "not a number"}'
    headers = signed_raw("telegram", telegram)
    assert client.post("/webhooks/telegram/demo", content=telegram, headers=headers).status_code == 400
    secret = DEMO.channel_secrets("livechat")["secret_key"]
    livechat = b'{"secret_key": "%s", "action": "incoming_event", "payload": 7}' % secret.encode()
    assert client.post("/webhooks/livechat/demo", content=livechat,
                       headers={"Content-Type": "application/json"}).status_code == 400
    first, second = services.publisher.dead_letters
    assert first["headers"]["x-telegram-bot-api-secret-token"] == "[redacted]"
    assert second["body"] == '{"secret_key": "[redacted]", "action": "incoming_event", "payload": 7}'
    letters = repr(services.publisher.dead_letters)
    assert DEMO.channel_secrets("telegram")["secret_token"] not in letters and secret not in letters


@pytest.mark.parametrize("field,value", [("ip", "<b>1.2.3.4</b>"), ("avatar", "javascript:alert(1)"),
                                         ("source", "javascript:alert(1)"), ("avatar", "data:text/html,x")])
def test_typed_profile_fields_are_refused_unless_they_are_what_they_say(client, services, field, value):
    body = {"kind": "profile_update", "event_id": "p1", "user_id": "web:u", "occurred_at": "2026-01-01T00:00:00Z",
            "profile": {field: value}}
    response = client.post("/v1/bots/demo/events", json=body, headers=AUTH)
    assert response.status_code == 400 and field in str(response.json()["detail"])
    ok = client.post("/v1/bots/demo/events", headers=AUTH, json={**body, "profile": {
        "ip": " 2001:DB8::1 ", "avatar": "https://x.test/a.png", "source": "http://shop.test/p"}})
    assert ok.status_code == 202 and services.publisher.events[-1].profile.ip == "2001:db8::1"


def test_an_event_dated_far_in_the_future_is_refused_and_dead_lettered(client, services):
    update = {"update_id": 9, "message": {"message_id": 9, "date": 253402300799, "text": "from the year 9999",
                                          "chat": {"id": 7, "type": "private"},
                                          "from": {"id": 7, "is_bot": False, "first_name": "Tim"}}}
    body = json.dumps(update).encode()
    response = client.post("/webhooks/telegram/demo", content=body, headers=signed_raw("telegram", body))
    assert response.status_code == 400 and "hours after it was received" in str(response.json()["detail"])
    assert services.publisher.events == [] and len(services.publisher.dead_letters) == 1
    update["message"]["date"] = int(datetime.now(UTC).timestamp()) + 600   # a clock ten minutes ahead is fine
    body = json.dumps(update).encode()
    assert client.post("/webhooks/telegram/demo", content=body, headers=signed_raw("telegram", body)).status_code == 200
