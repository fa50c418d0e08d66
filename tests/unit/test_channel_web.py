"""chatlens web-widget webhooks -> canonical events; the format documented in schemas/channels/web.py."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.channels import PayloadError, web
from schemas.events import Attachment, ButtonClick, InvalidEvent, Message, Profile, ProfileUpdate
from tests.support import fuzz

BOT = "acme_bot"
RECEIVED = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


def documented_example() -> dict:
    """The example in the module docstring, so the documentation cannot drift from the parser."""
    doc = web.__doc__
    start = doc.index('{"site_id"')
    end = doc.index("\n\n", start)
    return json.loads(textwrap.dedent(doc[start:end]))


EXAMPLE = documented_example()


def parse(body):
    return web.parse(body, bot_id=BOT, received_at=RECEIVED)


def common(**fields):
    return {"bot_id": BOT, "user_id": "web:vis_42", "channel": "web", "received_at": RECEIVED, **fields}


def event(**fields):
    return {"id": "evt_9", "type": "message.created", "occurred_at": "2026-11-20T09:14:00Z",
            "visitor": {"id": "vis_42"}, **fields}


def test_documented_example_gives_a_message_a_url_click_and_a_profile():
    message, click, profile = parse(EXAMPLE)
    assert message == Message(
        event_id="web:msg_01", direction="inbound", text="Hola 👋 ¿tenéis talla M?",
        attachments=(Attachment(type="image", url="https://cdn.example/a.jpg", name="a.jpg"),),
        occurred_at=datetime(2026, 11, 20, 9, 14, 0, 123000, tzinfo=UTC), **common())
    assert click == ButtonClick(event_id="web:evt_02", button_type="url", title="See plans",
                                url="https://shop.example/plans",
                                occurred_at=datetime(2026, 11, 20, 9, 14, 31, tzinfo=UTC), **common())
    assert profile == ProfileUpdate(
        event_id="web:evt_03:profile", occurred_at=datetime(2026, 11, 20, 8, 15, 0, tzinfo=UTC),
        profile=Profile(name="Ana Ruiz", email="ana@example.com", language="es-ES", timezone="Europe/Madrid",
                        country="ES", city="Madrid", region="Madrid", avatar="https://cdn.example/ana.png",
                        username="ana_r", gender="female", external_user_id="crm-991",
                        source="https://shop.example/pricing", referrer="https://www.google.com/",
                        ip="192.0.2.44", integration="shopify"),
        **common())


def test_outbound_message_is_the_bots_reply_to_the_visitor():
    body = {"events": [event(message={"id": "msg_7", "direction": "outbound", "text": "¡Claro! 😊"})]}
    assert parse(body) == [Message(event_id="web:msg_7", direction="outbound", text="¡Claro! 😊",
                                   occurred_at=datetime(2026, 11, 20, 9, 14, tzinfo=UTC), **common())]


def test_postback_click_payload_defaults_to_the_button_id():
    body = {"events": [event(type="button.clicked", click={"kind": "postback", "button_id": "yes", "label": "Yes"})]}
    (click,) = parse(body)
    assert (click.event_id, click.button_type, click.payload, click.title, click.url) == (
        "web:evt_9", "postback", "yes", "Yes", None)


def test_context_on_any_event_is_a_profile_update_and_empty_fields_mean_unknown():
    body = {"events": [event(type="session.started", context={"page_url": "https://shop.example/", "referrer": "",
                                                              "ip": "198.51.100.7"})]}
    (profile,) = parse(body)
    assert profile.profile == Profile(source="https://shop.example/", ip="198.51.100.7")


def test_unknown_event_types_are_skipped():
    assert parse({"events": [event(type="widget.opened")]}) == []


@pytest.mark.parametrize("body, field, expected", [
    ({"site_id": "s"}, "events", "an array"),
    ({"events": [event(visitor={})]}, "events[0].visitor.id", "a non-empty string or integer id"),
    ({"events": [event(occurred_at="2026-11-20T09:14:00")]}, "events[0].occurred_at",
     "an RFC 3339 timestamp with a time zone"),
    ({"events": [event(message={"id": "m", "direction": "sideways"})]}, "events[0].message.direction",
     '"inbound" or "outbound"'),
    ({"events": [event(message={"id": "m", "direction": "inbound", "attachments": [{"type": "gif"}]})]},
     "events[0].message.attachments[0].type", "one of image, video, audio, file, sticker, location, other"),
    ({"events": [event(type="button.clicked", click={"kind": "url"})]}, "events[0].click.url", "a string"),
    ({"events": [event(), "not an event"]}, "events[1]", "an object"),
])
def test_structurally_wrong_body_names_the_field(body, field, expected):
    with pytest.raises(PayloadError) as error:
        parse(body)
    assert (error.value.field, error.value.expected) == (field, expected)


def test_a_name_longer_than_the_schema_allows_is_an_invalid_event():
    with pytest.raises(InvalidEvent, match="profile.name"):
        parse({"events": [event(type="visitor.identified", profile={"name": "n" * 2000})]})


# --- fuzz
JSON = fuzz.json_values("😀" * 300, "message.created", "button.clicked",
                        "url", "postback", "inbound", "2026-11-20T09:14:00Z", "0001-01-01T00:00:00+01:00")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, fuzz.mutated([EXAMPLE], JSON)))
def test_fuzzed_bodies_give_events_or_a_named_error(body):
    try:
        events = parse(body)
    except (PayloadError, InvalidEvent):
        return
    assert all(isinstance(e, Message | ButtonClick | ProfileUpdate) for e in events)
    assert all(e.channel == "web" and e.bot_id == BOT and e.received_at == RECEIVED for e in events)
