"""Webhook routes with the publisher's in-memory twin: authentication, parsing, dead letters, 503."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumers.memory import MemoryEventStore
from pipeline.core.bots import load_bots
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.core.signatures import signed_request
from pipeline.http.app import create_api
from pipeline.core.ingest import decode_body
from schemas.channels import PARSERS
from tests.support.channel_examples import EXAMPLES

BOTS = load_bots(Path(__file__).resolve().parents[2] / "bots.example.toml")
DEMO = BOTS["demo"]
CASES = [(channel, i) for channel, examples in EXAMPLES.items() for i in range(len(examples))]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    return Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path_factory.mktemp("data")), bots=BOTS,
                    publisher=MemoryPublisher(), store=MemoryEventStore())


@pytest.fixture(scope="module")
def client(services):
    with TestClient(create_api(services)) as client:
        yield client


@pytest.fixture(autouse=True)
def fresh_publisher(services):
    services.publisher.events.clear()
    services.publisher.dead_letters.clear()
    services.publisher.available = True


def signed(channel: str, payload: dict) -> tuple[bytes, dict[str, str]]:
    return signed_request(channel, payload, DEMO.channel_secrets(channel), now=datetime.now(UTC))


@pytest.mark.parametrize("channel,index", CASES)
def test_signed_documented_payload_publishes_exactly_the_parsed_events(client, services, channel, index):
    payload = EXAMPLES[channel][index]
    body, headers = signed(channel, payload)
    response = client.post(f"/webhooks/{channel}/demo", content=body, headers=headers)
    assert response.status_code == 200, response.text
    published = services.publisher.events
    expected = PARSERS[channel](decode_body(body, headers["Content-Type"]), bot_id="demo",
                                received_at=published[0].received_at)
    assert expected, "the example must carry events"
    assert published == expected
    assert response.json()["event_ids"] == [e.event_id for e in expected]


@pytest.mark.parametrize("channel", list(EXAMPLES))
def test_unsigned_or_tampered_requests_are_401_and_write_nothing(client, services, channel):
    body, headers = signed(channel, EXAMPLES[channel][0])
    tampered = body.replace(b"}", b" }", 1)  # the signature covers the body...
    if channel == "livechat":  # ...except where the secret is in the body
        tampered = body.replace(b"demo-livechat-secret", b"wrong-livechat-secre")
    if channel == "telegram":  # ...or only a header carries it
        tampered, headers = body, {**headers, "X-Telegram-Bot-Api-Secret-Token": "wrong"}
    unsigned = body.replace(b"demo-livechat-secret", b"") if channel == "livechat" else body
    assert client.post(f"/webhooks/{channel}/demo", content=unsigned).status_code == 401
    assert client.post(f"/webhooks/{channel}/demo", content=tampered, headers=headers).status_code == 401
    assert services.publisher.events == [] and services.publisher.dead_letters == []


def test_unknown_bot_is_401_unknown_channel_404_and_unconfigured_channel_403(client):
    body, headers = signed("telegram", EXAMPLES["telegram"][0])
    assert client.post("/webhooks/telegram/nobody", content=body, headers=headers).json() == \
        {"error": "unauthenticated", "detail": "unknown bot"}
    assert client.post("/webhooks/icq/demo", content=body, headers=headers).status_code == 404
    assert client.post("/webhooks/telegram/acme", content=body, headers=headers).status_code == 403


def test_authenticated_malformed_payload_is_400_and_kept_with_its_reason(client, services):
    payload = {"update_id": "not-a-number", "message": {}}
    body, headers = signed("telegram", payload)
    response = client.post("/webhooks/telegram/demo", content=body, headers=headers)
    assert response.status_code == 400 and response.json()["error"] == "invalid_payload"
    [letter] = services.publisher.dead_letters
    assert letter["source"] == "webhook:telegram" and letter["bot_id"] == "demo"
    assert letter["reason"] == response.json()["detail"]
    assert letter["body"].encode() == body and "body_base64" not in letter  # kept once, as text
    assert "x-telegram-bot-api-secret-token" in letter["headers"]
    assert services.publisher.events == []


def test_authenticated_body_that_is_not_json_is_kept_too(client, services):
    body = b"\xff\xfenot json"
    _, headers = signed("telegram", {})
    assert client.post("/webhooks/telegram/demo", content=body, headers=headers).status_code == 400
    [letter] = services.publisher.dead_letters
    assert base64.b64decode(letter["body_base64"]) == body and "body" not in letter  # not UTF-8: base64 only


def test_kafka_unavailable_is_503_so_the_platform_retries(client, services):
    services.publisher.available = False
    body, headers = signed("web", EXAMPLES["web"][0])
    response = client.post("/webhooks/web/demo", content=body, headers=headers)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_slack_url_verification_echoes_the_challenge_only_when_signed(client, services):
    body, headers = signed("slack", {"type": "url_verification", "token": "x", "challenge": "abc123"})
    assert client.post("/webhooks/slack/demo", content=body, headers=headers).json() == {"challenge": "abc123"}
    assert client.post("/webhooks/slack/demo", content=body).status_code == 401
    assert services.publisher.events == []


def test_messenger_handshake_echoes_challenge_for_the_right_token_only(client):
    ok = client.get("/webhooks/messenger/demo", params={"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                                        "hub.verify_token": "demo-messenger-verify"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = client.get("/webhooks/messenger/demo", params={"hub.mode": "subscribe", "hub.challenge": "1",
                                                         "hub.verify_token": "guess"})
    assert bad.status_code == 403
    assert client.get("/webhooks/messenger/acme", params={"hub.mode": "subscribe"}).status_code == 403


HEADER_NAMES = st.sampled_from(["x-telegram-bot-api-secret-token", "x-hub-signature-256", "x-slack-signature",
                                "x-slack-request-timestamp", "webhook-id", "webhook-timestamp",
                                "webhook-signature", "content-type"])
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80)


@pytest.mark.parametrize("channel", list(EXAMPLES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), st.just(b"{}"), st.just(b'{"secret_key": "x"}')),
       headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=5))
def test_adversarial_requests_never_5xx_and_never_publish_unauthenticated(client, services, channel, body, headers):
    services.publisher.events.clear()
    response = client.post(f"/webhooks/{channel}/demo", content=body, headers=headers)
    assert response.status_code < 500
    assert services.publisher.events == []  # random bytes and headers never carry a valid signature


def test_a_webhook_is_served_without_fastapis_dependency_solving_and_stays_documented(client, services,
                                                                                     monkeypatch):
    import fastapi.dependencies.utils as fastapi_dependencies
    import fastapi.routing as fastapi_routing

    def refuse(*_args, **_kwargs):
        raise AssertionError("the webhook route solved dependencies")

    monkeypatch.setattr(fastapi_dependencies, "solve_dependencies", refuse)
    monkeypatch.setattr(fastapi_routing, "solve_dependencies", refuse)
    body, headers = signed("telegram", EXAMPLES["telegram"][0])
    assert client.post("/webhooks/telegram/demo", content=body, headers=headers).status_code == 200
    assert len(services.publisher.events) >= 1
    operation = client.get("/openapi.json").json()["paths"]["/webhooks/{channel}/{bot_id}"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"channel", "bot_id"}
    assert "503" in operation["responses"]


def test_what_the_app_made_at_start_is_frozen_out_of_the_collector(services):
    import gc

    gc.unfreeze()
    try:
        with TestClient(create_api(services)):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
