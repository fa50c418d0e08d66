from datetime import UTC, datetime

import pytest

from schemas.events import InvalidEvent, Message, parse_event, to_json, user_id_for

BASE = {"kind": "message", "event_id": "e1", "bot_id": "demo", "user_id": "telegram:42",
        "occurred_at": "2026-05-01T12:00:00.123456+02:00", "direction": "inbound", "text": "hi 😀"}


def test_event_times_are_normalized_to_utc_milliseconds():
    event = parse_event(BASE)
    assert event.occurred_at == datetime(2026, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)


def test_json_round_trip_gives_the_same_event():
    event = parse_event(BASE)
    assert parse_event(to_json(event)) == event


def test_channel_is_derived_from_the_user_id_when_absent():
    assert parse_event(BASE).channel == "telegram"


def test_user_id_of_another_channel_is_rejected_with_both_named():
    with pytest.raises(InvalidEvent) as info:
        parse_event({**BASE, "channel": "slack"})
    assert info.value.problems == ["message: user_id must start with 'slack:' (the event's channel), "
                                   "got 'telegram:42'"]


def test_validation_problems_name_field_expectation_and_input():
    with pytest.raises(InvalidEvent) as info:
        parse_event({**BASE, "direction": "sideways"})
    assert info.value.problems == ["message.direction: Input should be 'inbound' or 'outbound' (got 'sideways')"]


def test_missing_fields_are_listed_each():
    with pytest.raises(InvalidEvent) as info:
        parse_event({"kind": "button_click", "bot_id": "demo"})
    assert "button_click.event_id: field required" in info.value.problems
    assert "button_click.button_type: field required" in info.value.problems


def test_unknown_kind_and_non_objects_and_bad_json_are_invalid():
    for bad in [{"kind": "nope"}, [], b"{", "42"]:
        with pytest.raises(InvalidEvent):
            parse_event(bad)


def test_naive_timestamps_are_rejected_because_their_zone_is_unknown():
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event({**BASE, "occurred_at": "2026-05-01T12:00:00"})


def test_unsupported_schema_version_is_named():
    with pytest.raises(InvalidEvent, match="schema_version: unsupported version"):
        parse_event({**BASE, "schema_version": 99})


def test_unknown_fields_are_rejected_rather_than_silently_dropped():
    with pytest.raises(InvalidEvent, match="colour"):
        parse_event({**BASE, "colour": "red"})


def test_only_inbound_messages_and_clicks_are_interactions():
    assert parse_event(BASE).is_interaction
    assert not parse_event({**BASE, "direction": "outbound"}).is_interaction
    click = {k: v for k, v in BASE.items() if k not in ("direction", "text")}
    assert parse_event({**click, "kind": "button_click", "button_type": "url"}).is_interaction


def test_admin_events_are_never_interactions():
    tag = parse_event({"kind": "tag_added", "event_id": "t", "bot_id": "demo", "user_id": "web:x",
                       "occurred_at": "2026-01-01T00:00:00Z", "tag": "vip"})
    assert not tag.is_interaction and tag.channel == "web"


def test_user_id_for_joins_channel_and_platform_id():
    assert user_id_for("telegram", 42) == "telegram:42"
    assert isinstance(parse_event(BASE), Message)
