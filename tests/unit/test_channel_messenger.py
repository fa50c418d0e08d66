"""Messenger webhook notifications -> canonical events, from the Messenger Platform reference shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.channels import HandshakeRejected, PayloadError, messenger
from schemas.events import Attachment, ButtonClick, InvalidEvent, Message, Profile, ProfileUpdate
from tests.support import fuzz

BOT = "acme_bot"
PAGE = "106541234567890"
PSID = "6078123456789012"
RECEIVED = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
AT = datetime(2020, 3, 2, 18, 27, 46, 767000, tzinfo=UTC)  # 1583173666767 ms


def notification(*items, time=1583173667623):
    return {"object": "page", "entry": [{"id": PAGE, "time": time, "messaging": list(items)}]}


def item(**event):
    return {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1583173666767, **event}


# webhook-events/messages: a text message sent with a Quick Reply tap
TEXT_WITH_QUICK_REPLY = notification(item(message={
    "mid": "m_toDnmD1XKbQvE6fAJcb0nQ", "text": "Red ❤️",
    "quick_reply": {"payload": "COLOR_RED"}}))
# webhook-events/messages: attachments
IMAGE = notification(item(message={
    "mid": "m_img1", "attachments": [{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/a.jpg"}}]}))
# webhook-events/messaging_postbacks, as delivered (entry[].messaging[], ms timestamp)
POSTBACK = notification(item(postback={
    "mid": "m_postback1", "title": "Get Started", "payload": "GET_STARTED",
    "referral": {"ref": "spring_sale", "source": "SHORTLINK", "type": "OPEN_THREAD"}}))


def parse(body):
    return messenger.parse(body, bot_id=BOT, received_at=RECEIVED)


def common(**fields):
    return {"bot_id": BOT, "user_id": f"messenger:{PSID}", "channel": "messenger", "occurred_at": AT,
            "received_at": RECEIVED, **fields}


def test_quick_reply_message_is_a_message_and_a_postback_click():
    message, click = parse(TEXT_WITH_QUICK_REPLY)
    assert message == Message(event_id="messenger:m_toDnmD1XKbQvE6fAJcb0nQ", direction="inbound",
                              text="Red ❤️", **common())
    assert click == ButtonClick(event_id="messenger:m_toDnmD1XKbQvE6fAJcb0nQ:quick_reply",
                                button_type="postback", title="Red ❤️", payload="COLOR_RED", **common())


def test_image_attachment_keeps_its_url():
    (message,) = parse(IMAGE)
    assert message.text == ""
    assert message.attachments == (Attachment(type="image", url="https://scontent.xx.fbcdn.net/a.jpg"),)


def test_sticker_sent_twice_during_the_transition_is_one_sticker_attachment():
    body = notification(item(message={"mid": "m_like", "attachments": [
        {"type": "image", "payload": {"url": "https://cdn.example/like.png", "sticker_id": 369239263222822}},
        {"type": "sticker", "payload": {"url": "https://cdn.example/like.png", "sticker_id": 369239263222822}}]}))
    assert parse(body)[0].attachments == (Attachment(type="sticker", url="https://cdn.example/like.png"),)


def test_shared_link_keeps_text_and_fallback_attachment():
    body = notification(item(message={"mid": "m_link", "text": "look https://shop.example/p/1", "attachments": [
        {"type": "fallback", "payload": {"url": "https://shop.example/p/1", "title": "Blue shirt"}}]}))
    (message,) = parse(body)
    assert message.text == "look https://shop.example/p/1"
    assert message.attachments == (Attachment(type="other", url="https://shop.example/p/1", name="Blue shirt"),)


def test_echo_of_the_pages_reply_is_outbound_to_the_recipient():
    body = notification({"sender": {"id": PAGE}, "recipient": {"id": PSID}, "timestamp": 1583173666767,
                         "message": {"is_echo": True, "app_id": 1517776481860111, "mid": "m_echo1",
                                     "text": "Thanks! 🙌"}})
    assert parse(body) == [Message(event_id="messenger:m_echo1", direction="outbound", text="Thanks! 🙌",
                                   **common())]


def test_postback_is_a_click_and_its_referral_a_profile_referrer():
    click, profile = parse(POSTBACK)
    assert click == ButtonClick(event_id="messenger:postback:m_postback1", button_type="postback",
                                title="Get Started", payload="GET_STARTED", **common())
    assert profile == ProfileUpdate(event_id="messenger:postback:m_postback1:referral",
                                    profile=Profile(referrer="SHORTLINK:spring_sale"), **common())


def test_postback_without_mid_is_keyed_by_sender_and_time():
    body = notification(item(postback={"title": "Menu", "payload": "MENU"}))
    assert parse(body)[0].event_id == f"messenger:postback:{PSID}:1583173666767"


def test_every_entry_and_messaging_item_is_parsed_in_order():
    body = notification(item(message={"mid": "m_1", "text": "one"}), item(message={"mid": "m_2", "text": "two"}))
    body["entry"].append({"id": PAGE, "time": 1583173667999,
                          "messaging": [item(message={"mid": "m_3", "text": "three"})],
                          "standby": [item(message={"mid": "m_4", "text": "four (other app owns thread)"})]})
    assert [e.event_id for e in parse(body)] == ["messenger:m_1", "messenger:m_2", "messenger:m_3", "messenger:m_4"]


def test_entry_time_is_used_when_an_item_has_no_timestamp():
    body = notification({"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": {"mid": "m_1", "text": "a"}},
                        time=1458692752478)
    assert parse(body)[0].occurred_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)


def test_chat_plugin_guest_is_identified_by_user_ref():
    body = notification({"sender": {"user_ref": "ref_abc"}, "recipient": {"id": PAGE},
                         "timestamp": 1583173666767, "postback": {"mid": "m_p", "title": "Hi", "payload": "HI"}})
    assert parse(body)[0].user_id == "messenger:user_ref:ref_abc"


@pytest.mark.parametrize("body", [
    notification(item(read={"watermark": 1583173666767})),
    notification(item(delivery={"mids": ["m_1"], "watermark": 1583173666767})),
    notification(item(reaction={"reaction": "love", "emoji": "❤", "action": "react", "mid": "m_1"})),
    notification(item(message_edit={"mid": "m_1", "text": "fixed", "num_edit": 1})),
    notification(item(some_future_field={"x": 1})),
    {"object": "instagram", "entry": [{"id": "1", "time": 1, "messaging": []}]},
], ids=["read", "delivery", "reaction", "edit", "unknown", "instagram"])
def test_events_without_a_canonical_kind_are_skipped(body):
    assert parse(body) == []


@pytest.mark.parametrize("body, field, expected", [
    ({"entry": []}, "object", "a string"),
    ({"object": "page"}, "entry", "an array"),
    (notification({"sender": {}, "recipient": {"id": PAGE}, "timestamp": 1, "message": {"mid": "m", "text": "a"}}),
     "entry[0].messaging[0].sender.id", "a PSID (or a user_ref)"),
    (notification(item(message={"text": "no mid"})), "entry[0].messaging[0].message.mid", "a string"),
    (notification({**item(message={"mid": "m", "text": "a"}), "timestamp": "1583173666767"}),
     "entry[0].messaging[0].timestamp", "Unix time in milliseconds"),
    (notification({"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": {"mid": "m"}}, time=None),
     "entry[0].messaging[0].timestamp", "Unix time in milliseconds"),
    ({"object": "page", "entry": ["not an object"]}, "entry[0]", "an object"),
])
def test_structurally_wrong_notification_names_the_field(body, field, expected):
    with pytest.raises(PayloadError) as error:
        parse(body)
    assert (error.value.field, error.value.expected) == (field, expected)


def test_verification_handshake_returns_the_challenge():
    params = {"hub.mode": "subscribe", "hub.verify_token": "s3cret-token", "hub.challenge": "1158201444"}
    assert messenger.verify_subscription(params, "s3cret-token") == "1158201444"


@pytest.mark.parametrize("params, token", [
    ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}, "s3cret-token"),
    ({"hub.mode": "unsubscribe", "hub.verify_token": "s3cret-token", "hub.challenge": "1"}, "s3cret-token"),
    ({"hub.mode": "subscribe", "hub.challenge": "1"}, "s3cret-token"),
    ({"hub.mode": "subscribe", "hub.verify_token": "s3cret-token"}, "s3cret-token"),
    ({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, ""),
    ({"hub.mode": "subscribe", "hub.verify_token": "s3cret-token", "hub.challenge": "<script>"}, "s3cret-token"),
], ids=["wrong_token", "wrong_mode", "no_token", "no_challenge", "not_configured", "markup_challenge"])
def test_verification_handshake_is_rejected(params, token):
    with pytest.raises(HandshakeRejected):
        messenger.verify_subscription(params, token)


# --- fuzz
JSON = fuzz.json_values("😀" * 300, "page", "1" * 400)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, fuzz.mutated([TEXT_WITH_QUICK_REPLY, IMAGE, POSTBACK], JSON)))
def test_fuzzed_notifications_give_events_or_a_named_error(body):
    try:
        events = parse(body)
    except (PayloadError, InvalidEvent):
        return
    assert all(isinstance(e, Message | ButtonClick | ProfileUpdate) for e in events)
    assert all(e.channel == "messenger" and e.bot_id == BOT and e.received_at == RECEIVED for e in events)
