"""Slack Events API and block_actions payloads -> canonical events, from Slack's reference examples."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.channels import PayloadError, slack
from schemas.events import Attachment, ButtonClick, InvalidEvent, Message, Profile, ProfileUpdate
from tests.support import fuzz

BOT = "acme_bot"
RECEIVED = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

# docs.slack.dev/reference/events/message/ (message.im) wrapped in the event_callback envelope
MESSAGE_IM = {
    "token": "one-long-verification-token", "team_id": "T061EG9R6", "api_app_id": "A0PNCHHK2",
    "event": {"type": "message", "channel": "D024BE91L", "user": "U2147483697",
              "text": "Hello hello can you hear me?", "ts": "1355517523.000005",
              "event_ts": "1355517523.000005", "channel_type": "im"},
    "type": "event_callback", "authed_teams": ["T061EG9R6"], "event_id": "Ev0PV52K21", "event_time": 1355517523,
    "authorizations": [{"enterprise_id": None, "team_id": "T061EG9R6", "user_id": "U0BOTUSER",
                        "is_bot": True, "is_enterprise_install": False}]}
# docs.slack.dev/reference/interaction-payloads/block_actions-payload
BLOCK_ACTIONS = {
    "type": "block_actions", "team": {"id": "T9TK3CUKW", "domain": "example"},
    "user": {"id": "UA8RXUSPL", "username": "jtorrance", "team_id": "T9TK3CUKW"},
    "api_app_id": "AABA1ABCD", "token": "9s8d9as89d8as9d8as989",
    "container": {"type": "message_attachment", "message_ts": "1548261231.000200", "attachment_id": 1,
                  "channel_id": "CBR2V3XEX", "is_ephemeral": False, "is_app_unfurl": False},
    "trigger_id": "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
    "channel": {"id": "CBR2V3XEX", "name": "review-updates"},
    "message": {"bot_id": "BAH5CA16Z", "type": "message",
                "text": "This content can't be displayed.",
                "user": "UAJ2RU415", "ts": "1548261231.000200"},
    "response_url": "https://hooks.slack.com/actions/AABA1ABCD/1232321423432/D09sSasdasdAS9091209",
    "actions": [{"action_id": "WaXA", "block_id": "=qXel",
                 "text": {"type": "plain_text", "text": "View", "emoji": True}, "value": "click_me_123",
                 "type": "button", "action_ts": "1548426417.840180"}]}


def parse(body):
    return slack.parse(body, bot_id=BOT, received_at=RECEIVED)


def with_event(**fields):
    body = copy.deepcopy(MESSAGE_IM)
    body["event"].update(fields)
    return body


def test_direct_message_is_an_inbound_message_keyed_by_channel_and_ts():
    assert parse(MESSAGE_IM) == [Message(
        event_id="slack:D024BE91L:1355517523.000005", bot_id=BOT, user_id="slack:U2147483697", channel="slack",
        occurred_at=datetime(2012, 12, 14, 20, 38, 43, tzinfo=UTC), received_at=RECEIVED,
        direction="inbound", text="Hello hello can you hear me?")]


def test_shortcodes_become_emoji_and_slack_escapes_are_undone():
    (message,) = parse(with_event(text="Ship it :tada: :+1: &amp; thanks &lt;3 :not_an_emoji:"))
    assert message.text == "Ship it 🎉 👍 & thanks <3 :not_an_emoji:"


def test_file_share_keeps_files_as_attachments():
    (message,) = parse(with_event(subtype="file_share", text="", files=[
        {"id": "F0S43PZDF", "name": "cat.png", "mimetype": "image/png", "filetype": "png",
         "url_private": "https://files.slack.com/files-pri/T061EG9R6-F0S43PZDF/cat.png"},
        {"id": "F0S43PZDG", "name": "q3.pdf", "mimetype": "application/pdf",
         "url_private": "https://files.slack.com/files-pri/T061EG9R6-F0S43PZDG/q3.pdf"}]))
    assert message.attachments == (
        Attachment(type="image", url="https://files.slack.com/files-pri/T061EG9R6-F0S43PZDF/cat.png", name="cat.png"),
        Attachment(type="file", url="https://files.slack.com/files-pri/T061EG9R6-F0S43PZDG/q3.pdf", name="q3.pdf"))


def test_this_apps_threaded_reply_is_outbound_to_the_thread_owner():
    body = with_event(user="U0BOTUSER", bot_id="B0BOT", app_id="A0PNCHHK2", text="Sure :ok_hand:",
                      ts="1355517524.000100", thread_ts="1355517523.000005", parent_user_id="U2147483697")
    (message,) = parse(body)
    assert (message.event_id, message.direction, message.user_id, message.text) == (
        "slack:D024BE91L:1355517524.000100", "outbound", "slack:U2147483697", "Sure 👌")


@pytest.mark.parametrize("fields", [
    {"user": "U0BOTUSER", "bot_id": "B0BOT", "app_id": "A0PNCHHK2"},  # our reply, but to whom?
    {"subtype": "bot_message", "bot_id": "B0OTHER", "username": "giphy", "parent_user_id": "U2147483697"},
    {"user": "U0OTHERBOT", "bot_id": "B0OTHER", "app_id": "A0OTHERAPP", "parent_user_id": "U2147483697"},
], ids=["no_human_named", "legacy_other_bot", "other_app"])
def test_bot_messages_that_are_not_attributable_replies_are_skipped(fields):
    assert parse(with_event(**fields)) == []


@pytest.mark.parametrize("body", [
    with_event(subtype="message_changed", message={"type": "message", "user": "U1", "text": "x", "ts": "1.0"}),
    with_event(subtype="message_deleted", deleted_ts="1355517523.000005"),
    with_event(subtype="channel_join", text="<@U2147483697> has joined the channel"),
    with_event(type="reaction_added", reaction="thumbsup"),
    with_event(type="app_mention"),
    {"type": "app_rate_limited", "token": "x", "team_id": "T1", "minute_rate_limited": 1518467820, "api_app_id": "A1"},
    {"type": "view_submission", "user": {"id": "U1"}},
], ids=["edit", "delete", "join", "reaction", "mention", "rate_limited", "view_submission"])
def test_events_without_a_canonical_kind_are_skipped(body):
    assert parse(body) == []


def test_url_verification_is_answered_with_its_challenge_and_gives_no_events():
    body = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert slack.url_verification_challenge(body) == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert slack.url_verification_challenge(MESSAGE_IM) is None
    assert parse(body) == []


def test_block_actions_button_is_a_postback_click_with_the_users_username():
    click, profile = parse({"payload": json.dumps(BLOCK_ACTIONS)})  # the form-decoded body
    at = datetime(2019, 1, 25, 14, 26, 57, 840000, tzinfo=UTC)
    assert click == ButtonClick(
        event_id="slack:action:12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3:WaXA", bot_id=BOT,
        user_id="slack:UA8RXUSPL", channel="slack", occurred_at=at, received_at=RECEIVED,
        button_type="postback", title="View", payload="click_me_123")
    assert profile == ProfileUpdate(
        event_id="slack:action:12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3:profile", bot_id=BOT,
        user_id="slack:UA8RXUSPL", channel="slack", occurred_at=at, received_at=RECEIVED,
        profile=Profile(username="jtorrance"))


def test_link_button_is_a_url_click():
    body = copy.deepcopy(BLOCK_ACTIONS)
    body["actions"][0] = {"action_id": "docs", "block_id": "b1", "type": "button", "url": "https://shop.example/docs",
                          "text": {"type": "plain_text", "text": "Docs :books:"}, "action_ts": "1548426417.840180"}
    click = parse(body)[0]
    assert (click.button_type, click.url, click.title, click.payload) == (
        "url", "https://shop.example/docs", "Docs 📚", None)


def test_select_menus_are_not_button_clicks():
    body = copy.deepcopy(BLOCK_ACTIONS)
    body["actions"][0] = {"action_id": "pick", "block_id": "b", "type": "static_select",
                          "selected_option": {"value": "a"}, "action_ts": "1548426417.840180"}
    assert parse(body) == []


@pytest.mark.parametrize("body, field, expected", [
    ({"event": MESSAGE_IM["event"]}, "type", "a string"),
    ({"type": "event_callback", "event_id": "Ev1"}, "event", "an object"),
    (with_event(ts=1355517523.000005), "event.ts", "a string"),
    (with_event(ts="yesterday"), "event.ts", 'a "seconds.micro" timestamp string'),
    (with_event(ts="١٣٥٥٥١٧٥٢٣.000005"), "event.ts", 'a "seconds.micro" timestamp string'),
    (with_event(ts="999999999999.000001"), "event.ts", 'a "seconds.micro" timestamp string'),
    (with_event(user=None), "event.user", "a string"),
    ({"payload": "{not json"}, "payload", "a JSON string"),
    ({"payload": 42}, "payload", "a JSON string"),
    ({**BLOCK_ACTIONS, "trigger_id": None}, "trigger_id", "a string"),
    ({**BLOCK_ACTIONS, "actions": [{"type": "button", "value": "v"}]}, "actions[0].action_id", "a string"),
])
def test_structurally_wrong_payload_names_the_field(body, field, expected):
    with pytest.raises(PayloadError) as error:
        parse(body)
    assert (error.value.field, error.value.expected) == (field, expected)


# --- fuzz
JSON = fuzz.json_values(":tada:" * 2000, "message", "button", "bot_message",
                        "1355517523.000005", "99999999999999.9", "A0PNCHHK2", "U0BOTUSER")


BOT_REPLY = with_event(user="U0BOTUSER", bot_id="B0BOT", app_id="A0PNCHHK2", parent_user_id="U2147483697")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, fuzz.mutated([MESSAGE_IM, BLOCK_ACTIONS, BOT_REPLY], JSON),
                 fuzz.mutated([BLOCK_ACTIONS], JSON).map(lambda p: {"payload": json.dumps(p)})))
def test_fuzzed_payloads_give_events_or_a_named_error(body):
    try:
        events = parse(body)
    except (PayloadError, InvalidEvent):
        return
    assert all(isinstance(e, Message | ButtonClick | ProfileUpdate) for e in events)
    assert all(e.channel == "slack" and e.bot_id == BOT and e.received_at == RECEIVED for e in events)
