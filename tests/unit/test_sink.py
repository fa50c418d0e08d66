import asyncio
from datetime import UTC, datetime

from types import SimpleNamespace

from consumers.memory import MemoryProjectionStore
from consumers.sink import RetryingWriter, SinkStatus, _items_of
from pipeline.core.projection import REPLAYED, erasures, survives_erasure
from pipeline.kafka import topics
from pipeline.kafka.codecs import RowsRecord, decode_rows, row_records, unpacked


def test_failed_writes_are_retried_until_they_succeed_and_reported_meanwhile():
    calls, seen_status = [], []
    status = SinkStatus()

    def flaky(batch):
        calls.append(list(batch))
        seen_status.append(status.ok)
        if len(calls) < 3:
            raise ConnectionError("ClickHouse is down")
        return len(batch)

    writer = RetryingWriter(flaky, status=status, first_delay=0.001)
    assert asyncio.run(writer.write([1, 2])) == 2
    assert calls == [[1, 2]] * 3
    assert seen_status == [True, False, False]  # reported failing between attempts
    assert (status.ok, status.attempts, status.rows_written, status.batches_written) == (True, 0, 2, 1)


def test_a_write_that_keeps_failing_never_returns_and_records_the_error():
    status = SinkStatus()

    def down(batch):
        raise ConnectionError("refused")

    async def scenario():
        task = asyncio.create_task(RetryingWriter(down, status=status, first_delay=0.001, max_delay=0.002).write([1]))
        await asyncio.sleep(0.1)
        assert not task.done()
        task.cancel()

    asyncio.run(scenario())
    assert status.ok is False and status.attempts > 3 and status.last_error == "ConnectionError: refused"


def test_a_rows_time_as_iso_text_is_judged_by_the_erasure_rule_like_a_datetime():
    erased = datetime(2026, 3, 1, 10, 20, tzinfo=UTC)
    before = {"table": "messages", "bot_id": "b", "user_id": "web:u", "occurred_at": "2026-03-01T10:19:59.999+00:00"}
    after = {**before, "occurred_at": "2026-03-01T10:20:00.001+00:00"}
    assert not survives_erasure(before, erased) and survives_erasure(after, erased)


def test_decoded_rows_keep_their_times_as_text_but_an_erasures_until():
    [row, erasure] = decode_rows(b'[{"table": "messages", "occurred_at": "2026-03-01T10:20:00+00:00"},'
                                 b' {"table": "erasures", "until": "2026-03-01T10:20:00+00:00"}]')
    assert row["occurred_at"] == "2026-03-01T10:20:00+00:00"
    assert erasure["until"] == datetime(2026, 3, 1, 10, 20, tzinfo=UTC)


def test_a_batchs_deletions_are_added_to_those_the_sink_knows_without_copying_them():
    """The sink keeps every deletion: a copy of them per batch would cost more the more users were deleted."""
    old, new = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    known = {("b", f"web:u{i}"): old for i in range(3)}
    rows = [{"table": "erasures", "bot_id": "b", "user_id": "web:u1", "until": new},
            {"table": "erasures", "bot_id": "b", "user_id": "web:u2", "until": datetime(2026, 2, 1, tzinfo=UTC)},
            {"table": "erasures", "bot_id": "b", "user_id": "web:u9", "until": new},
            {"table": "messages", "bot_id": "b", "user_id": "web:u0", "occurred_at": "2026-03-03T00:00:00+00:00"}]
    assert erasures(rows, known) is known
    assert known == {("b", "web:u0"): old, ("b", "web:u1"): new, ("b", "web:u2"): old, ("b", "web:u9"): new}
    assert erasures(rows) == {("b", "web:u1"): new, ("b", "web:u2"): datetime(2026, 2, 1, tzinfo=UTC),
                              ("b", "web:u9"): new}


def record_of(rows, offset=5, replayed=False, headers=True):
    [(_, whole)] = row_records([(0, [row]) for row in rows])
    named = whole.headers() if headers else []
    return SimpleNamespace(offset=offset, value=whole.value,
                           headers=[*named, (topics.REPLAYED_HEADER, b"1")] if replayed else named)


MESSAGES = [{"table": "messages", "bot_id": "b", "user_id": f"web:u{i}", "event_id": f"e{i}", "version": 1,
             "occurred_at": "2026-03-01T10:20:00+00:00"} for i in range(3)]
EVENTS = [{**m, "table": "events", "kind": "message"} for m in MESSAGES]


def test_a_rows_record_reads_back_from_its_value_and_headers():
    [(_, whole)] = row_records([(0, [row]) for row in MESSAGES])
    assert RowsRecord.of(whole.value, whole.headers()) == whole
    assert (whole.table, whole.count, whole.rows()) == ("messages", 3, MESSAGES)
    assert whole.holds_any({("b", "web:u2")}) and not whole.holds_any({("b", "web:u3"), ("c", "web:u0")})
    assert RowsRecord.of(whole.value, []) is None   # a record written before records had one table each


def test_the_sink_keeps_a_fresh_record_whole_and_decodes_one_that_may_be_stored_already_or_erases():
    [(_, whole)] = row_records([(0, [row]) for row in EVENTS])
    assert _items_of(record_of(EVENTS), replay_until=5) == ([whole], 3)
    for replayed in (record_of(EVENTS, offset=4), record_of(EVENTS, replayed=True)):
        items, count = _items_of(replayed, replay_until=5)
        assert count == 3 and items == [{**row, REPLAYED: True} for row in EVENTS]
    erasure = [{"table": "erasures", "bot_id": "b", "user_id": "web:u0", "until": "2026-03-01T10:20:00+00:00",
                "version": 2}]
    assert _items_of(record_of(erasure), replay_until=0)[0] == decode_rows(record_of(erasure).value)
    assert _items_of(record_of(MESSAGES, headers=False), replay_until=0) == (MESSAGES, 3)


def test_a_row_that_fails_alone_inside_a_record_is_the_only_one_dead_lettered():
    store, poisoned = MemoryProjectionStore(), []

    def write(items):
        if any(row["event_id"] == "e1" for item in items for row in unpacked(item)):
            raise ValueError("Cannot parse input")
        return store.write(items)

    async def poison(item, reason):
        poisoned.append(item)   # the failing row itself, not the record that held it

    writer = RetryingWriter(write, first_delay=0.001, attempts=1, probe=lambda: None, on_poison=poison,
                            split=unpacked)
    [(_, whole)] = row_records([(0, [row]) for row in MESSAGES])
    assert asyncio.run(writer.write([whole])) == 2
    assert poisoned == [MESSAGES[1]] and sorted(r["event_id"] for r in store.rows.values()) == ["e0", "e2"]
