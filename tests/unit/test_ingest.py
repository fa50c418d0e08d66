import json
from datetime import UTC, datetime

import pytest

from pipeline.core.ingest import MAX_EVENTS_PER_REQUEST, events_for_bot
from schemas.events import InvalidEvent

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def item(i: int, **extra) -> dict:
    return {"kind": "message", "event_id": f"e{i}", "user_id": "web:u1", "occurred_at": "2026-11-23T11:00:00Z",
            "direction": "inbound", "text": f"hi {i}", **extra}


def test_one_json_object_is_one_event_for_the_urls_bot():
    [event] = events_for_bot(json.dumps(item(1)).encode(), "demo", NOW)
    assert (event.bot_id, event.event_id, event.received_at) == ("demo", "e1", NOW)


def test_ndjson_lines_and_json_arrays_are_batches():
    ndjson = "\n".join(json.dumps(item(i)) for i in range(3)).encode()
    assert [e.event_id for e in events_for_bot(ndjson, "demo", NOW)] == ["e0", "e1", "e2"]
    array = json.dumps([item(5), item(6)]).encode()
    assert [e.event_id for e in events_for_bot(array, "demo", NOW)] == ["e5", "e6"]


def test_the_server_stamps_received_at_whatever_the_client_sent():
    [event] = events_for_bot(json.dumps(item(1, received_at="2000-01-01T00:00:00Z")).encode(), "demo", NOW)
    assert event.received_at == NOW


def test_an_event_naming_another_bot_is_refused():
    with pytest.raises(InvalidEvent) as info:
        events_for_bot(json.dumps(item(1, bot_id="other")).encode(), "demo", NOW)
    assert info.value.problems == ["bot_id: must be the URL's bot 'demo' (got 'other')"]


def test_one_bad_event_rejects_the_whole_batch_naming_its_position():
    body = "\n".join([json.dumps(item(0)), json.dumps({**item(1), "direction": "up"})]).encode()
    with pytest.raises(InvalidEvent) as info:
        events_for_bot(body, "demo", NOW)
    assert info.value.problems == ["event 1: message.direction: Input should be 'inbound' or 'outbound' (got 'up')"]


def test_a_broken_ndjson_line_is_named_by_number():
    body = (json.dumps(item(0)) + "\n{oops\n").encode()
    with pytest.raises(InvalidEvent, match="line 2: not valid JSON"):
        events_for_bot(body, "demo", NOW)


def test_empty_body_and_non_utf8_are_explained():
    with pytest.raises(InvalidEvent, match="empty body"):
        events_for_bot(b"  ", "demo", NOW)
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        events_for_bot(b"\xff\xfe", "demo", NOW)


def test_too_many_events_in_one_request_are_refused():
    body = json.dumps([item(i) for i in range(MAX_EVENTS_PER_REQUEST + 1)]).encode()
    with pytest.raises(InvalidEvent, match=f"at most {MAX_EVENTS_PER_REQUEST} events"):
        events_for_bot(body, "demo", NOW)
