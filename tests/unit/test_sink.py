import asyncio
from datetime import UTC, datetime

from consumers.sink import RetryingWriter, SinkStatus
from pipeline.core.projection import erasures, survives_erasure
from pipeline.kafka.codecs import decode_rows


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
