"""The id index keeps the ids a user's state forgot in one record per user and hour of event time."""

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.kafka.codecs import decode_ids, encode_ids
from pipeline.kafka.topics import folded_hour_key, folded_key
from pipeline.stream import id_index
from pipeline.stream.id_index import HOUR_MS, holds, records
from tests.unit.test_redelivery import (Stream, assert_streamed_equals_batch, batch_rows, click, events_strategy,
                                        message)

H = 491_000  # an hour (epoch hours); its first millisecond is H * HOUR_MS


def test_the_ids_of_one_hour_go_into_one_record_and_of_two_hours_into_two():
    table: dict[bytes, bytes] = {}
    out = records(table.get, "demo", "u1", {"a": H * HOUR_MS, "b": H * HOUR_MS + 59 * 60_000,
                                            "c": (H + 1) * HOUR_MS})
    assert out == [(folded_hour_key("demo", "u1", H), b'["a","b"]'), (folded_hour_key("demo", "u1", H + 1), b'["c"]')]


def test_a_later_batch_adds_to_the_hours_record_and_writes_nothing_for_ids_it_holds():
    table = {folded_hour_key("demo", "u1", H): encode_ids(["b", "d"])}
    assert records(table.get, "demo", "u1", {"a": H * HOUR_MS, "d": H * HOUR_MS}) == \
        [(folded_hour_key("demo", "u1", H), b'["a","b","d"]')]
    assert records(table.get, "demo", "u1", {"b": H * HOUR_MS, "d": H * HOUR_MS + 1}) == []


def test_an_id_is_held_in_the_record_of_its_event_time_only():
    table = dict(records({}.get, "demo", "u1", {"a": H * HOUR_MS + 5}))
    assert holds(table.get, "demo", "u1", "a", H * HOUR_MS + 5)
    assert not holds(table.get, "demo", "u1", "b", H * HOUR_MS + 5)
    assert not holds(table.get, "demo", "u2", "a", H * HOUR_MS + 5)   # another user's ids are not this user's
    assert not holds(table.get, "demo", "u1", "a", (H + 1) * HOUR_MS)


def test_an_index_of_one_record_per_id_written_by_older_code_still_answers():
    table = {folded_key("demo", "u1", "old"): b"1"}
    assert holds(table.get, "demo", "u1", "old", H * HOUR_MS)


def test_ids_that_would_outgrow_an_hours_record_get_a_record_each():
    table = {folded_hour_key("demo", "u1", H): encode_ids(["a"]), folded_key("demo", "u1", "c"): b"1"}
    with mock.patch.object(id_index, "HOUR_BYTES", len(encode_ids(["a", "b"]))):
        out = records(table.get, "demo", "u1", {"b": H * HOUR_MS, "c": H * HOUR_MS, "d": H * HOUR_MS})
    # the hour's record stays as it is; "c" has a record of its own already
    assert out == [(folded_key("demo", "u1", "b"), b"1"), (folded_key("demo", "u1", "d"), b"1")]
    table.update(out)
    assert all(holds(table.get, "demo", "u1", i, H * HOUR_MS) for i in "abcd")
    assert decode_ids(table[folded_hour_key("demo", "u1", H)]) == {"a"}


def test_a_late_copy_counts_once_when_its_hour_overflowed_into_records_of_one_id():
    events = [message(f"m{i}", i / 10) for i in range(400)] + [click("c", 25 * 60)]
    stream = Stream()
    with mock.patch.object(id_index, "HOUR_BYTES", 200):   # room for about 30 ids an hour
        for start in range(0, len(events), 20):
            stream.consume(events[start:start + 20])
        assert any(key.startswith(b"\x00") for key in stream.table)   # some ids have records of their own
        assert any(key.startswith(b"\x01") for key in stream.table)
        stream.consume([events[0], events[200], events[399]])
    assert stream.final_rows() == batch_rows(events)


@settings(max_examples=100, deadline=None)
@given(events_strategy, st.lists(st.integers(1, 8), min_size=1, max_size=20))
def test_any_interleaving_with_hour_records_that_overflow_at_once_still_folds_to_the_batch(items, sizes):
    with mock.patch.object(id_index, "HOUR_BYTES", 12):   # every hour's record full after one or two ids
        assert_streamed_equals_batch(items, sizes)
