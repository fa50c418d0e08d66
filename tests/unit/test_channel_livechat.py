"""LiveChat webhooks -> canonical events, from the v3.6 webhook and data-structure samples."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.channels import PayloadError, livechat
from schemas.events import Attachment, ButtonClick, InvalidEvent, Message, Profile, ProfileUpdate
from tests.support import fuzz

BOT = "acme_bot"
RECEIVED = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
CUSTOMER = "b7eff798-f8df-4364-8059-649c35c9ed0c"
AT = datetime(2017, 10, 12, 15, 19, 21, 10000, tzinfo=UTC)  # "2017-10-12T15:19:21.010200Z", kept to the ms


def envelope(action, payload, **extra):
    return {"webhook_id": "<webhook_id>", "secret_key": "<secret_key>", "action": action,
            "organization_id": "390e44e6-f1e6-0368c-z6ddb-74g14508c2ex", "payload": payload, **extra}


# data-structures: Message event (with the postback a rich-message button produced)
MESSAGE_EVENT = {"id": "0affb00a-82d6-4e07-ae61-56ba5c36f743", "custom_id": "31-0C-1C-07-DB-16", "type": "message",
                 "author_id": CUSTOMER, "created_at": "2017-10-12T15:19:21.010200Z", "text": "hello there 😊",
                 "postback": {"id": "action_call", "thread_id": "K600PKZON8",
                              "event_id": "75a90b82-e6a4-4ded-b3eb-cb531741ee0d",
                              "type": "phone", "value": "790034890"},
                 "visibility": "all", "properties": {"property_namespace": {"property_name": "property_value"}}}
# data-structures: File event
FILE_EVENT = {"id": "K600PKZON8_3", "type": "file", "author_id": CUSTOMER, "created_at": "2017-10-12T15:19:21.010200Z",
              "visibility": "all", "name": "image25.png", "url": "https://example.com/image25.png",
              "thumbnail_url": "https://example.com/thumbnail.png", "content_type": "image/png",
              "size": 123444, "width": 640, "height": 480, "alternative_text": "A sample image"}
INCOMING_EVENT = envelope("incoming_event", {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8",
                                             "event": MESSAGE_EVENT})
# webhooks: incoming_rich_message_postback (v3.6 adds button_type / button_value)
POSTBACK = envelope("incoming_rich_message_postback", {
    "user_id": CUSTOMER, "chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8",
    "event_id": "0affb00a-82d6-4e07-ae61-56ba5c36f743", "postback": {"id": "action_yes", "toggled": True}})
# users: Customer (v3.6, `visit`), an IP in place of the sample's "<customer_ip>" placeholder
CUSTOMER_USER = {
    "id": CUSTOMER, "type": "customer", "name": "Thomas Anderson", "email": "t.anderson@example.com",
    "email_verified": False, "avatar": "https://example.com/avatars/1.png", "phone_number": "+18008529001",
    "visit": {"started_at": "2017-10-12T15:19:21.010200Z", "referrer": "http://www.google.com/",
              "ip": "203.0.113.9", "user_agent": "Mozilla/5.0",
              "geolocation": {"country": "Poland", "country_code": "PL", "region": "Dolnoslaskie",
                              "city": "Wroclaw", "timezone": "Europe/Warsaw"},
              "last_pages": [{"opened_at": "2017-10-12T15:19:21.010200Z", "url": "https://www.livechat.com/",
                              "title": "LiveChat - Homepage"}]},
    "session_fields": [{"custom_key": "custom_value"}], "created_at": "2017-10-11T15:19:21.010200Z"}
INCOMING_CHAT = envelope("incoming_chat", {"chat": {
    "id": "PJ0MRSHTDG",
    "users": [CUSTOMER_USER, {"id": "smith@example.com", "name": "Agent Smith", "type": "agent"}],
    "thread": {"id": "K600PKZON8", "active": True, "created_at": "2020-05-07T07:11:28.288340Z",
               "properties": {"routing": {"start_url": "https://shop.example/pricing"}},
               "events": [
                   {"id": "K600PKZON8_1", "type": "filled_form", "author_id": CUSTOMER, "visibility": "all",
                    "created_at": "2020-05-07T07:11:28.288340Z", "form_id": "1473433500211", "form_type": "prechat",
                    "fields": [{"type": "name", "id": "1", "label": "Your name", "answer": "Thomas Anderson"},
                               {"type": "email", "id": "2", "label": "Your email", "answer": "t.anderson@example.com"},
                               {"type": "radio", "id": "3", "label": "Purpose",
                                "answer": {"id": "0", "label": "Support"}}]},
                   {"id": "K600PKZON8_2", "type": "message", "author_id": CUSTOMER, "visibility": "all",
                    "created_at": "2020-05-07T07:11:29.100000Z", "text": "Hello there"},
                   {"id": "K600PKZON8_3", "type": "message", "author_id": "smith@example.com", "visibility": "all",
                    "created_at": "2020-05-07T07:11:35.000000Z", "text": "Hi! How can I help?"},
                   {"id": "K600PKZON8_4", "type": "message", "author_id": "smith@example.com",
                    "visibility": "agents", "created_at": "2020-05-07T07:11:36.000000Z", "text": "VIP, be nice"}]}}})


def parse(body):
    return livechat.parse(body, bot_id=BOT, received_at=RECEIVED)


def common(**fields):
    return {"bot_id": BOT, "user_id": f"livechat:{CUSTOMER}", "channel": "livechat", "received_at": RECEIVED,
            **fields}


def test_customer_message_is_inbound_and_its_postback_a_click():
    message, click = parse(INCOMING_EVENT)
    assert message == Message(event_id="livechat:PJ0MRSHTDG:K600PKZON8:0affb00a-82d6-4e07-ae61-56ba5c36f743",
                              direction="inbound", text="hello there 😊", occurred_at=AT, **common())
    assert click == ButtonClick(
        event_id=f"livechat:PJ0MRSHTDG:K600PKZON8:75a90b82-e6a4-4ded-b3eb-cb531741ee0d:postback:action_call:{CUSTOMER}",
        button_type="postback", payload="790034890", occurred_at=AT, **common())


def test_file_event_becomes_an_attachment():
    body = envelope("incoming_event", {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event": FILE_EVENT})
    assert parse(body) == [Message(event_id="livechat:PJ0MRSHTDG:K600PKZON8:K600PKZON8_3", direction="inbound",
                                   attachments=(Attachment(type="image", url="https://example.com/image25.png",
                                                           name="image25.png"),), occurred_at=AT, **common())]


def test_agent_message_is_outbound_to_the_customer_present_in_the_chat():
    event = {**MESSAGE_EVENT, "author_id": "smith@example.com", "text": "On it!"}
    del event["postback"]
    body = envelope("incoming_event", {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "event": event},
                    additional_data={"chat_presence_user_ids": ["smith@example.com", CUSTOMER]})
    (message,) = parse(body)
    assert (message.direction, message.user_id, message.text) == ("outbound", f"livechat:{CUSTOMER}", "On it!")


def test_bot_message_without_a_known_customer_is_skipped():
    event = {**MESSAGE_EVENT, "author_id": "5c9871d5372c824cbf22d860a707a578"}
    assert parse(envelope("incoming_event", {"chat_id": "C", "thread_id": "T", "event": event})) == []


def test_incoming_chat_gives_thread_events_and_the_customer_profile():
    form, hello, reply, profile = parse(INCOMING_CHAT)
    assert form == ProfileUpdate(event_id="livechat:PJ0MRSHTDG:K600PKZON8:K600PKZON8_1",
                                 occurred_at=datetime(2020, 5, 7, 7, 11, 28, 288000, tzinfo=UTC),
                                 profile=Profile(name="Thomas Anderson", email="t.anderson@example.com"), **common())
    assert (hello.event_id, hello.direction, hello.text) == ("livechat:PJ0MRSHTDG:K600PKZON8:K600PKZON8_2",
                                                             "inbound", "Hello there")
    assert (reply.event_id, reply.direction, reply.user_id) == ("livechat:PJ0MRSHTDG:K600PKZON8:K600PKZON8_3",
                                                                "outbound", f"livechat:{CUSTOMER}")
    assert profile == ProfileUpdate(
        event_id=f"livechat:PJ0MRSHTDG:K600PKZON8:profile:{CUSTOMER}",
        occurred_at=datetime(2020, 5, 7, 7, 11, 28, 288000, tzinfo=UTC),
        profile=Profile(name="Thomas Anderson", email="t.anderson@example.com",
                        avatar="https://example.com/avatars/1.png", ip="203.0.113.9",
                        referrer="http://www.google.com/", country="Poland", city="Wroclaw",
                        region="Dolnoslaskie", timezone="Europe/Warsaw", source="https://shop.example/pricing"),
        **common())


def test_v35_last_visit_is_read_and_first_page_is_the_source_without_routing():
    body = copy.deepcopy(INCOMING_CHAT)
    chat = body["payload"]["chat"]
    chat["users"][0]["last_visit"] = chat["users"][0].pop("visit")
    del chat["thread"]["properties"]
    profile = parse(body)[-1].profile
    assert (profile.city, profile.ip, profile.source) == ("Wroclaw", "203.0.113.9", "https://www.livechat.com/")


def test_rich_message_postback_is_a_click_at_receive_time():
    assert parse(POSTBACK) == [ButtonClick(
        event_id=f"livechat:PJ0MRSHTDG:K600PKZON8:0affb00a-82d6-4e07-ae61-56ba5c36f743:postback:action_yes:{CUSTOMER}",
        button_type="postback", payload="action_yes", occurred_at=RECEIVED, **common())]


def test_v36_url_button_postback_is_a_url_click():
    body = copy.deepcopy(POSTBACK)
    body["payload"]["postback"].update(button_type="url", button_value="https://shop.example/plans")
    (click,) = parse(body)
    assert (click.button_type, click.url, click.payload) == ("url", "https://shop.example/plans", None)


def test_untoggling_a_button_is_not_a_click():
    body = copy.deepcopy(POSTBACK)
    body["payload"]["postback"]["toggled"] = False
    assert parse(body) == []


def test_a_click_seen_as_postback_and_as_message_has_one_id():
    body = copy.deepcopy(POSTBACK)
    body["payload"]["event_id"] = "75a90b82-e6a4-4ded-b3eb-cb531741ee0d"
    body["payload"]["postback"]["id"] = "action_call"
    assert parse(body)[0].event_id == parse(INCOMING_EVENT)[1].event_id


def test_customer_added_to_chat_gives_their_profile():
    body = envelope("user_added_to_chat", {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8",
                                           "user": CUSTOMER_USER, "reason": "manual",
                                           "requester_id": "smith@example.com"})
    (profile,) = parse(body)
    assert profile.event_id == f"livechat:PJ0MRSHTDG:K600PKZON8:added:{CUSTOMER}"
    assert (profile.profile.email, profile.profile.country, profile.occurred_at) == (
        "t.anderson@example.com", "Poland", RECEIVED)


def test_timestamps_with_an_offset_are_normalized_to_utc():
    body = copy.deepcopy(INCOMING_EVENT)
    body["payload"]["event"]["created_at"] = "2017-10-12T17:19:21.010200+02:00"
    assert parse(body)[0].occurred_at == AT


@pytest.mark.parametrize("body", [
    envelope("chat_deactivated", {"chat_id": "PJ0MRSHTDG", "thread_id": "K600PKZON8", "user_id": CUSTOMER}),
    envelope("incoming_customer", {"customer": CUSTOMER_USER}),
    envelope("event_updated", {"chat_id": "C", "thread_id": "T", "event": MESSAGE_EVENT}),
    envelope("incoming_event", {"chat_id": "C", "thread_id": "T",
                                "event": {"id": "e", "type": "system_message", "created_at": "2017-10-12T15:19:21Z",
                                          "text": "Chat transferred", "system_message_type": "routing.assigned"}}),
    envelope("user_added_to_chat", {"chat_id": "C", "thread_id": "T", "user": {"id": "a@x.com", "type": "agent"}}),
], ids=["deactivated", "removed_in_36", "edit", "system_message", "agent_added"])
def test_actions_and_events_without_a_canonical_kind_are_skipped(body):
    assert parse(body) == []


@pytest.mark.parametrize("body, field, expected", [
    ({"payload": {}}, "action", "a string"),
    (envelope("incoming_event", None), "payload", "an object"),
    (envelope("incoming_event", {"chat_id": 17, "thread_id": "T", "event": MESSAGE_EVENT}),
     "payload.chat_id", "a string"),
    (envelope("incoming_event", {"chat_id": "C", "thread_id": "T",
                                 "event": {**MESSAGE_EVENT, "created_at": "2017-10-12T15:19:21"}}),
     "payload.event.created_at", "an RFC 3339 timestamp with a time zone"),
    (envelope("incoming_event", {"chat_id": "C", "thread_id": "T", "event": {"type": "message", "text": "x"}}),
     "payload.event.id", "a string"),
    (envelope("incoming_chat", {"chat": {"id": "C", "users": "everyone"}}), "payload.chat.users", "an array"),
])
def test_structurally_wrong_webhook_names_the_field(body, field, expected):
    with pytest.raises(PayloadError) as error:
        parse(body)
    assert (error.value.field, error.value.expected) == (field, expected)


# --- fuzz
JSON = fuzz.json_values("😀" * 300, CUSTOMER, "agents", "url",
                        "2017-10-12T15:19:21.010200Z", "9999-12-31T23:59:59-23:59")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, fuzz.mutated([INCOMING_EVENT, INCOMING_CHAT, POSTBACK], JSON)))
def test_fuzzed_webhooks_give_events_or_a_named_error(body):
    try:
        events = parse(body)
    except (PayloadError, InvalidEvent):
        return
    assert all(isinstance(e, Message | ButtonClick | ProfileUpdate) for e in events)
    assert all(e.channel == "livechat" and e.bot_id == BOT and e.received_at == RECEIVED for e in events)
