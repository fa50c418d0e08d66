"""Webhook authentication per channel: published test vectors, tampering, replays, missing config."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core import signatures as sig
from pipeline.core.bots import parse_bots
from pipeline.core.signatures import ChannelNotConfigured, Unauthenticated
from schemas.channels import PARSERS

SECRETS = {"secret_token": "tg_Secret-123", "app_secret": "0d7b1a5c8e2f4a6b9c1d3e5f7a9b2c4d",
           "secret_key": "lc-secret-key", "signing_secret": "8f742231b10e8888abcd99yyyzzz85a5",
           "signing_key": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
NOW = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

# docs.slack.dev/authentication/verifying-requests-from-slack: the worked example
SLACK_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
              b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
              b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554"
              b"%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SLACK_HEADERS = {"x-slack-request-timestamp": "1531420618",
                 "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}
SLACK_AT = datetime.fromtimestamp(1531420618, UTC)
# standard-webhooks libraries/python tests: test_sign_function
WEB_BODY = b'{"test": 2432232314}'
WEB_HEADERS = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
WEB_AT = datetime.fromtimestamp(1614265330, UTC)


def reason(call) -> str:
    with pytest.raises(Unauthenticated) as error:
        call()
    return error.value.reason


# --- Telegram
def test_telegram_accepts_the_secret_token_header_in_any_case():
    sig.verify_telegram({"X-Telegram-Bot-Api-Secret-Token": "tg_Secret-123"}, b"{}", SECRETS)
    sig.verify_telegram({"x-telegram-bot-api-secret-token": "tg_Secret-123"}, b"{}", SECRETS)


def test_telegram_rejects_a_wrong_or_missing_token():
    wrong = {"x-telegram-bot-api-secret-token": "tg_Secret-124"}
    assert reason(lambda: sig.verify_telegram(wrong, b"{}", SECRETS)) == (
        "X-Telegram-Bot-Api-Secret-Token does not match")
    assert reason(lambda: sig.verify_telegram({}, b"{}", SECRETS)) == "missing X-Telegram-Bot-Api-Secret-Token header"


# --- Messenger
def test_messenger_signature_is_over_the_raw_escaped_unicode_bytes():
    body = (b'{"object":"page","entry":[{"id":"1","time":1,"messaging":'
            b'[{"message":{"text":"\\u00e4 \\ud83d\\ude00"}}]}]}')
    headers = sig.sign_messenger(body, SECRETS)
    assert headers["X-Hub-Signature-256"].startswith("sha256=")
    sig.verify_messenger(headers, body, SECRETS)
    reserialized = json.dumps(json.loads(body), ensure_ascii=False).encode()  # what a careless receiver hashes
    assert reason(lambda: sig.verify_messenger(headers, reserialized, SECRETS)) == (
        "X-Hub-Signature-256 does not match the body")


def test_messenger_rejects_missing_sha1_only_and_malformed_signatures():
    body = b'{"object":"page","entry":[]}'
    assert reason(lambda: sig.verify_messenger({}, body, SECRETS)).startswith("missing X-Hub-Signature-256")
    assert reason(lambda: sig.verify_messenger({"x-hub-signature": "sha1=0"}, body, SECRETS)).startswith("missing")
    good = sig.sign_messenger(body, SECRETS)["X-Hub-Signature-256"]
    assert reason(lambda: sig.verify_messenger({"x-hub-signature-256": good[7:]}, body, SECRETS)) == (
        "X-Hub-Signature-256 must look like sha256=<hex>")


# --- LiveChat
def test_livechat_accepts_the_secret_key_in_the_body():
    body = json.dumps(sig.sign_livechat({"action": "incoming_event", "payload": {}}, SECRETS)).encode()
    sig.verify_livechat({}, body, SECRETS)


@pytest.mark.parametrize("body, expected", [
    (b'{"action":"incoming_event","secret_key":"lc-secret-kez"}', "secret_key does not match"),
    (b'{"action":"incoming_event"}', "body has no secret_key"),
    (b'{"secret_key":17}', "body has no secret_key"),
    (b"[1,2]", "body is not a JSON object carrying secret_key"),
    (b"\xff\xfe", "body is not a JSON object carrying secret_key"),
])
def test_livechat_rejects_a_wrong_or_missing_secret_key(body, expected):
    assert reason(lambda: sig.verify_livechat({}, body, SECRETS)) == expected


# --- Slack
def test_slack_accepts_its_published_test_vector():
    sig.verify_slack(SLACK_HEADERS, SLACK_BODY, SECRETS, now=SLACK_AT)
    assert sig.sign_slack(SLACK_BODY, SECRETS, now=SLACK_AT) == {
        "X-Slack-Request-Timestamp": "1531420618", "X-Slack-Signature": SLACK_HEADERS["x-slack-signature"]}


@pytest.mark.parametrize("offset", [timedelta(seconds=300), timedelta(seconds=-300)])
def test_slack_accepts_requests_exactly_five_minutes_off(offset):
    sig.verify_slack(SLACK_HEADERS, SLACK_BODY, SECRETS, now=SLACK_AT + offset)


@pytest.mark.parametrize("offset", [timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=365)])
def test_slack_rejects_a_replayed_or_future_timestamp(offset):
    assert reason(lambda: sig.verify_slack(SLACK_HEADERS, SLACK_BODY, SECRETS, now=SLACK_AT + offset)) == (
        "X-Slack-Request-Timestamp is more than 5 minutes from now (replay?)")


@pytest.mark.parametrize("headers, body, expected", [
    (SLACK_HEADERS, SLACK_BODY + b"&x=1", "X-Slack-Signature does not match"),
    ({**SLACK_HEADERS, "x-slack-request-timestamp": "1531420619"}, SLACK_BODY, "X-Slack-Signature does not match"),
    ({**SLACK_HEADERS, "x-slack-request-timestamp": "1531420618.5"}, SLACK_BODY,
     "X-Slack-Request-Timestamp is not Unix seconds"),
    ({**SLACK_HEADERS, "x-slack-request-timestamp": "١٥٣١٤٢٠٦١٨"}, SLACK_BODY,
     "X-Slack-Request-Timestamp is not Unix seconds"),
    ({"x-slack-signature": SLACK_HEADERS["x-slack-signature"]}, SLACK_BODY,
     "missing X-Slack-Request-Timestamp or X-Slack-Signature header"),
])
def test_slack_rejects_tampered_or_incomplete_requests(headers, body, expected):
    assert reason(lambda: sig.verify_slack(headers, body, SECRETS, now=SLACK_AT)) == expected


# --- web widget (Standard Webhooks)
def test_web_accepts_the_standard_webhooks_test_vector_with_or_without_prefix():
    sig.verify_web(WEB_HEADERS, WEB_BODY, SECRETS, now=WEB_AT)
    sig.verify_web(WEB_HEADERS, WEB_BODY, {"signing_key": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, now=WEB_AT)
    assert sig.sign_web(WEB_BODY, SECRETS, now=WEB_AT, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek") == WEB_HEADERS


def test_web_accepts_any_matching_v1_signature_during_key_rotation():
    rotated = ("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5 "
               f"v1,not-base64!! {WEB_HEADERS['webhook-signature']}")
    sig.verify_web({**WEB_HEADERS, "webhook-signature": rotated}, WEB_BODY, SECRETS, now=WEB_AT)


@pytest.mark.parametrize("headers, body, now, expected", [
    (WEB_HEADERS, WEB_BODY + b" ", WEB_AT, "no webhook-signature matches"),
    ({**WEB_HEADERS, "webhook-id": "msg_other"}, WEB_BODY, WEB_AT, "no webhook-signature matches"),
    ({**WEB_HEADERS, "webhook-signature": "v2," + WEB_HEADERS["webhook-signature"][3:]}, WEB_BODY, WEB_AT,
     "no webhook-signature matches"),
    (WEB_HEADERS, WEB_BODY, WEB_AT + timedelta(seconds=301), "webhook-timestamp is more than 5 minutes from now"),
    (WEB_HEADERS, WEB_BODY, WEB_AT - timedelta(seconds=301), "webhook-timestamp is more than 5 minutes from now"),
    ({**WEB_HEADERS, "webhook-id": "msg.1"}, WEB_BODY, WEB_AT, "webhook-id must not contain '.'"),
    ({k: v for k, v in WEB_HEADERS.items() if k != "webhook-id"}, WEB_BODY, WEB_AT,
     "missing webhook-id, webhook-timestamp or webhook-signature header"),
])
def test_web_rejects_tampered_replayed_or_incomplete_requests(headers, body, now, expected):
    assert reason(lambda: sig.verify_web(headers, body, SECRETS, now=now)).startswith(expected)


def test_web_secret_that_is_not_base64_is_a_configuration_error():
    with pytest.raises(ChannelNotConfigured, match="whsec_<base64>"):
        sig.verify_web(WEB_HEADERS, WEB_BODY, {"signing_key": "whsec_not*base64"}, now=WEB_AT)


# --- every channel
@pytest.mark.parametrize("channel", ["telegram", "messenger", "livechat", "slack", "web"])
@pytest.mark.parametrize("secrets", [{}, {"secret_token": "", "app_secret": None, "secret_key": "",
                                          "signing_secret": "", "signing_key": ""}], ids=["absent", "empty"])
def test_a_channel_without_its_secret_is_not_configured(channel, secrets):
    with pytest.raises(ChannelNotConfigured) as error:
        sig.verify(channel, {}, b"{}", secrets, now=NOW)
    assert error.value.channel == channel


def test_secrets_from_the_bots_file_authenticate_and_a_missing_channel_is_not_configured():
    bots = parse_bots('''
        [bots.acme_bot]
        api_key = "k-0123456789abcdef"
        telegram = { secret_token = "tg_Secret-123" }
        web = { signing_key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
    ''')
    bot = bots["acme_bot"]
    sig.verify("telegram", {"X-Telegram-Bot-Api-Secret-Token": "tg_Secret-123"}, b"{}",
               bot.channel_secrets("telegram"), now=NOW)
    sig.verify("web", WEB_HEADERS, WEB_BODY, bot.channel_secrets("web"), now=WEB_AT)
    assert bot.channel_secrets("slack") is None
    with pytest.raises(ChannelNotConfigured, match="no signing_secret configured for channel 'slack'"):
        sig.verify("slack", SLACK_HEADERS, SLACK_BODY, bot.channel_secrets("slack"), now=SLACK_AT)


PAYLOADS = {
    "telegram": {"update_id": 1, "message": {"message_id": 2, "date": 1763629200,
                                             "chat": {"id": 3, "type": "private"}, "text": "hi 👋",
                                             "from": {"id": 3, "is_bot": False, "first_name": "Zoë"}}},
    "messenger": {"object": "page", "entry": [{"id": "9", "time": 1763629200000, "messaging": [
        {"sender": {"id": "3"}, "recipient": {"id": "9"}, "timestamp": 1763629200000,
         "message": {"mid": "m_1", "text": "grüße 👋"}}]}]},
    "livechat": {"action": "incoming_event", "payload": {"chat_id": "C", "thread_id": "T", "event": {
        "id": "T_1", "type": "message", "author_id": "b7eff798-f8df-4364-8059-649c35c9ed0c",
        "created_at": "2026-11-20T09:00:00.000000Z", "text": "hola 👋"}}},
    "slack": {"type": "block_actions", "user": {"id": "U1", "username": "zoe"}, "trigger_id": "1.2.abc",
              "actions": [{"type": "button", "action_id": "a", "value": "v", "text": {"text": "Go 👋"}}]},
    "web": {"events": [{"id": "e1", "type": "message.created", "occurred_at": "2026-11-20T09:00:00Z",
                        "visitor": {"id": "v1"}, "message": {"id": "m1", "direction": "inbound", "text": "hey 👋"}}]},
}


def _decode(channel, body, headers):
    if headers["Content-Type"] == "application/x-www-form-urlencoded":
        return {k: v[0] for k, v in parse_qs(body.decode()).items()}
    return json.loads(body)


@pytest.mark.parametrize("channel", sorted(PAYLOADS))
def test_signed_demo_request_verifies_and_parses_into_events(channel):
    body, headers = sig.signed_request(channel, PAYLOADS[channel], SECRETS, now=NOW)
    sig.verify(channel, headers, body, SECRETS, now=NOW)
    assert b"\\ud83d\\udc4b" in body or channel == "slack"  # Meta-style escaped unicode on the wire
    events = PARSERS[channel](_decode(channel, body, headers), bot_id="acme_bot", received_at=NOW)
    assert len(events) >= 1 and all(e.channel == channel for e in events)


@pytest.mark.parametrize("channel", sorted(PAYLOADS))
def test_signed_demo_request_fails_with_another_bots_secrets(channel):
    body, headers = sig.signed_request(channel, PAYLOADS[channel], SECRETS, now=NOW)
    other = {k: "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB" if v.startswith("whsec_") else v + "x"
             for k, v in SECRETS.items()}
    with pytest.raises(Unauthenticated):
        sig.verify(channel, headers, body, other, now=NOW)


# --- fuzz: random signatures and headers are never accepted, and nothing but Unauthenticated escapes.
HEADER_NAMES = {"telegram": ["x-telegram-bot-api-secret-token"], "messenger": ["x-hub-signature-256"],
                "livechat": [], "slack": ["x-slack-request-timestamp", "x-slack-signature"],
                "web": ["webhook-id", "webhook-timestamp", "webhook-signature"]}
header_value = st.one_of(st.text(max_size=80), st.just(str(int(NOW.timestamp()))), st.just("sha256=" + "0" * 64),
                         st.just("v0=" + "a" * 64), st.from_regex(r"v1,[A-Za-z0-9+/]{43}=", fullmatch=True))


@settings(max_examples=300, deadline=None)
@given(channel=st.sampled_from(sorted(HEADER_NAMES)), data=st.data(),
       body=st.one_of(st.binary(max_size=300), st.just(b'{"secret_key":"guess"}')))
def test_random_signatures_are_never_accepted(channel, data, body):
    headers = {name: data.draw(header_value) for name in HEADER_NAMES[channel]}
    with pytest.raises(Unauthenticated):
        sig.verify(channel, headers, body, SECRETS, now=NOW)


@settings(max_examples=200, deadline=None)
@given(channel=st.sampled_from(["telegram", "messenger", "slack", "web"]),
       body=st.binary(min_size=1, max_size=300), flip=st.integers(min_value=0))
def test_a_signed_body_verifies_and_any_changed_byte_does_not(channel, body, flip):
    sign = {"telegram": lambda: sig.sign_telegram(body, SECRETS),
            "messenger": lambda: sig.sign_messenger(body, SECRETS),
            "slack": lambda: sig.sign_slack(body, SECRETS, now=NOW),
            "web": lambda: sig.sign_web(body, SECRETS, now=NOW)}
    headers = sign[channel]()
    sig.verify(channel, headers, body, SECRETS, now=NOW)
    if channel == "telegram":
        return  # Telegram signs no body: update_id dedup is its only replay defence
    changed = bytearray(body)
    changed[flip % len(body)] ^= 0x01
    with pytest.raises(Unauthenticated):
        sig.verify(channel, headers, bytes(changed), SECRETS, now=NOW)
