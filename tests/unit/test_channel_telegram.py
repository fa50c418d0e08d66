"""Telegram updates -> canonical events, from the examples in the Bot API webhook guide."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.channels import PayloadError, telegram
from schemas.events import Attachment, ButtonClick, InvalidEvent, Message, Profile, ProfileUpdate
from tests.support import fuzz

BOT = "acme_bot"
RECEIVED = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

# core.telegram.org/bots/webhooks, "Testing your bot with updates": a message with text
GUIDE_MESSAGE = {
    "update_id": 10000,
    "message": {
        "date": 1441645532,
        "chat": {"last_name": "Test Lastname", "id": 1111111, "type": "private",
                 "first_name": "Test Firstname", "username": "Testusername"},
        "message_id": 1365,
        "from": {"last_name": "Test Lastname", "id": 1111111, "first_name": "Test Firstname",
                 "username": "Testusername"},
        "text": "/start",
    },
}
# ... and a callback query (an inline-mode message, so no `message`)
GUIDE_CALLBACK = {
    "update_id": 10000,
    "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": {"last_name": "Test Lastname", "type": "private", "id": 1111111,
                 "first_name": "Test Firstname", "username": "Testusername"},
        "data": "Data from button callback",
        "inline_message_id": "1234csdbsk4839",
    },
}


def parse(body):
    return telegram.parse(body, bot_id=BOT, received_at=RECEIVED)


def with_message(**fields):
    body = copy.deepcopy(GUIDE_MESSAGE)
    body["message"].update(fields)
    return body


def test_guide_text_message_becomes_inbound_message_and_profile():
    message, profile = parse(GUIDE_MESSAGE)
    assert message == Message(event_id="telegram:1111111:1365", bot_id=BOT, user_id="telegram:1111111",
                              channel="telegram", occurred_at=datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC),
                              received_at=RECEIVED, direction="inbound", text="/start")
    assert message.attachments == ()
    assert profile.event_id == "telegram:1111111:1365:profile"
    assert profile.user_id == "telegram:1111111"
    assert profile.occurred_at == datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC)
    assert profile.received_at == RECEIVED
    assert profile.profile == Profile(name="Test Firstname Test Lastname", username="Testusername")


def test_language_code_becomes_profile_language():
    body = with_message(**{"from": {"id": 7, "is_bot": False, "first_name": "Ana", "language_code": "es"}})
    _, profile = parse(body)
    assert profile.profile == Profile(name="Ana", language="es")


def test_deep_link_start_payload_is_recorded_as_referrer():
    _, profile = parse(with_message(text="/start spring_campaign"))
    assert profile.profile.referrer == "spring_campaign"


def test_guide_callback_query_is_a_postback_click_at_receive_time():
    click, profile = parse(GUIDE_CALLBACK)
    assert isinstance(click, ButtonClick)
    assert click.event_id == "telegram:callback:4382bfdwdsb323b2d9"
    assert click.user_id == "telegram:1111111"
    assert click.button_type == "postback"
    assert click.payload == "Data from button callback"
    assert click.title == ""
    assert click.url is None
    assert click.occurred_at == RECEIVED
    assert click.received_at == RECEIVED
    assert profile.event_id == "telegram:callback:4382bfdwdsb323b2d9:profile"
    assert profile.profile == Profile(name="Test Firstname Test Lastname", username="Testusername")


def test_callback_title_is_the_pressed_buttons_label():
    body = copy.deepcopy(GUIDE_CALLBACK)
    body["callback_query"]["data"] = "size:m"
    body["callback_query"]["message"] = {
        "message_id": 27, "date": 1441645600, "chat": {"id": 1111111, "type": "private"}, "text": "Size?",
        "reply_markup": {"inline_keyboard": [[{"text": "S", "callback_data": "size:s"},
                                              {"text": "M 👕", "callback_data": "size:m"}],
                                             [{"text": "Guide", "url": "https://shop.example/sizes"}]]}}
    click = parse(body)[0]
    assert click.title == "M 👕"
    assert click.payload == "size:m"


def test_photo_with_caption_keeps_caption_as_text_and_emoji():
    body = with_message(text=None, caption="Look at this 😍", photo=[
        {"file_id": "AgAD1", "file_unique_id": "u1", "width": 90, "height": 90},
        {"file_id": "AgAD2", "file_unique_id": "u2", "width": 800, "height": 800}])
    message = parse(body)[0]
    assert message.text == "Look at this 😍"
    assert message.attachments == (Attachment(type="image"),)


def test_sticker_is_a_sticker_attachment_named_by_its_emoji():
    body = with_message(text=None, sticker={"file_id": "CAAC", "file_unique_id": "s1", "type": "regular",
                                            "width": 512, "height": 512, "is_animated": False,
                                            "is_video": False, "emoji": "😂", "set_name": "Cats"})
    message = parse(body)[0]
    assert message.text == ""
    assert message.attachments == (Attachment(type="sticker", name="😂"),)


def test_guide_document_and_voice_become_file_and_audio_attachments():
    body = with_message(text=None,
                        document={"file_id": "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", "file_name": "Testfile.pdf",
                                  "mime_type": "application/pdf", "file_size": 536392})
    assert parse(body)[0].attachments == (Attachment(type="file", name="Testfile.pdf"),)
    body = with_message(text=None, voice={"file_id": "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", "duration": 5,
                                          "mime_type": "audio/ogg", "file_size": 23000})
    assert parse(body)[0].attachments == (Attachment(type="audio"),)


def test_group_message_id_is_scoped_by_chat():
    body = with_message(chat={"id": -1001234567890, "type": "supergroup", "title": "Fans"})
    assert parse(body)[0].event_id == "telegram:-1001234567890:1365"


def test_scheduled_message_with_date_zero_takes_receive_time():
    assert parse(with_message(date=0))[0].occurred_at == RECEIVED


@pytest.mark.parametrize("update", [
    {"update_id": 1, "edited_message": GUIDE_MESSAGE["message"]},
    {"update_id": 2, "channel_post": {"message_id": 1, "date": 1441645532, "text": "news",
                                      "chat": {"id": -100, "type": "channel"}}},
    {"update_id": 3, "message_reaction": {"chat": {"id": 1, "type": "private"}, "message_id": 5,
                                          "user": {"id": 1, "is_bot": False, "first_name": "A"},
                                          "date": 1441645532, "old_reaction": [],
                                          "new_reaction": [{"type": "emoji", "emoji": "❤"}]}},
    {"update_id": 4, "some_type_from_bot_api_99": {"anything": True}},
    {"update_id": 5},
], ids=["edit", "channel_post", "reaction", "future_type", "empty"])
def test_irrelevant_and_unknown_update_types_are_skipped(update):
    assert parse(update) == []


def test_service_message_without_text_or_media_is_skipped():
    body = with_message(text=None, new_chat_members=[{"id": 9, "is_bot": False, "first_name": "B"}])
    assert parse(body) == []


def test_messages_from_bots_and_anonymous_senders_are_skipped():
    assert parse(with_message(**{"from": {"id": 42, "is_bot": True, "first_name": "OtherBot"}})) == []
    body = copy.deepcopy(GUIDE_MESSAGE)
    del body["message"]["from"]
    assert parse(body) == []


@pytest.mark.parametrize("body, field, expected", [
    ({"message": GUIDE_MESSAGE["message"]}, "update_id", "an integer"),
    (with_message(chat={"id": "1111111", "type": "private"}), "message.chat.id", "an integer"),
    (with_message(message_id=None), "message.message_id", "an integer"),
    (with_message(date="yesterday"), "message.date", "an integer"),
    ({"update_id": 1, "message": "hello"}, "message", "an object"),
    ({"update_id": 1, "callback_query": {"from": {"id": 1, "first_name": "A"}}}, "callback_query.id", "a string"),
    ([GUIDE_MESSAGE], "body", "a JSON object"),
])
def test_structurally_wrong_update_names_the_field(body, field, expected):
    with pytest.raises(PayloadError) as error:
        parse(body)
    assert (error.value.field, error.value.expected) == (field, expected)


def test_text_longer_than_the_schema_allows_is_an_invalid_event():
    with pytest.raises(InvalidEvent, match="text"):
        parse(with_message(text="a" * 70_000))


# --- fuzz: anything Telegram (or an attacker) could post gives events or a named error.
JSON = fuzz.json_values("😀" * 300, "1" * 400, "2015-09-07")


EXAMPLES = [GUIDE_MESSAGE, GUIDE_CALLBACK, with_message(text=None, photo=[{"file_id": "a"}], caption="c"),
            with_message(text=None, sticker={"file_id": "s", "emoji": "😂"})]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, fuzz.mutated(EXAMPLES, JSON)))
def test_fuzzed_updates_give_events_or_a_named_error(body):
    try:
        events = parse(body)
    except (PayloadError, InvalidEvent):
        return
    assert all(isinstance(e, Message | ButtonClick | ProfileUpdate) for e in events)
    assert all(e.channel == "telegram" and e.bot_id == BOT and e.received_at == RECEIVED for e in events)


def test_a_sticker_whose_emoji_is_not_unicode_is_a_named_error():
    """Found by the fuzz test above: a lone surrogate (JSON "\\ud800") is refused as a named problem."""
    with pytest.raises(InvalidEvent, match="attachments|name"):
        parse(with_message(text=None, sticker={"file_id": "s", "emoji": "\ud800"}))
