"""Our topics' bytes pass through Faust untouched, and its monitor keeps only what its stall warning reads."""

import asyncio
from types import SimpleNamespace

import pytest
from faust.sensors import Monitor
from faust.types import TP

from pipeline.stream.lean_monitor import LeanMonitor
from pipeline.stream.raw_schema import RawBytes

NOT_UTF8 = b"\xff\x00{"


def test_keys_and_values_are_handed_over_as_kafka_carried_them():
    schema, message = RawBytes(), SimpleNamespace(key=NOT_UTF8, value=b"")
    assert schema.loads_key(None, message) is NOT_UTF8
    assert schema.loads_value(None, message) == b""
    assert schema.loads_key(None, SimpleNamespace(key=None, value=b"v")) is None


def test_keys_and_values_are_sent_as_given_with_their_headers():
    schema, headers = RawBytes(), [("chatlens-replayed", b"1")]
    assert schema.dumps_key(None, NOT_UTF8, headers=headers) == (NOT_UTF8, headers)
    assert schema.dumps_value(None, b"[]", headers=None) == (b"[]", None)


def test_the_lean_monitor_records_the_streams_inbound_time_and_leaves_messages_alone():
    tp, message = TP("chatlens-events", 3), object()   # Faust's monitor would stamp times on the message
    monitor = LeanMonitor()
    monitor.on_message_in(tp, 7, message)
    monitor.on_stream_event_in(tp, 7, None, None)
    monitor.on_stream_event_out(tp, 7, None, None, None)
    monitor.on_message_out(tp, 7, message)
    assert tp in monitor.stream_inbound_time and monitor.messages_received_total == 0
    with pytest.raises(AttributeError):
        Monitor().on_message_in(tp, 7, message)


def test_a_message_decodes_into_the_apps_event_with_its_bytes_and_headers():
    class Event(SimpleNamespace):
        def __init__(self, app, key, value, headers, message):
            super().__init__(app=app, key=key, value=value, headers=headers, message=message)

    app = SimpleNamespace(conf=SimpleNamespace(Event=Event))
    message = SimpleNamespace(key=NOT_UTF8, value=b"{}", headers=[("chatlens-replayed", b"1")])
    event = asyncio.run(RawBytes().compile(app)(message))
    assert (event.app, event.key, event.value, event.headers, event.message) == \
        (app, NOT_UTF8, b"{}", [("chatlens-replayed", b"1")], message)
