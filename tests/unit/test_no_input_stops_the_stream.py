"""The pure rules that keep any input from stopping the stream: sizes, row records, refusals, progress."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from consumers.sink import RetryingWriter, SinkStatus
from pipeline.kafka.dead_letters import Letter, reparse
from pipeline.stream.fold_batch import fold_batch
from pipeline.core.progress import ProgressMonitor
from pipeline.core.projection import Projected
from pipeline.kafka.codecs import decode_state, encode_letter, row_records
from pipeline.kafka.publisher import dead_letter
from pipeline.core.sentiment import PIECE_CHARS, pieces, score
from pipeline.stream.sends import send_all
from schemas.events import EventTooLarge, parse_event, to_checked_json
from schemas.limits import MAX_EVENT_BYTES, MAX_RECORD_BYTES, MAX_TEXT_CHARS

AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def message(i: int, text: str = "hello", user: str = "web:u1") -> dict:
    return {"kind": "message", "event_id": f"e{i}", "bot_id": "demo", "user_id": user, "direction": "inbound",
            "occurred_at": (AT + timedelta(minutes=i)).isoformat(), "text": text}


def test_a_text_over_the_limit_is_too_large_not_merely_invalid():
    with pytest.raises(EventTooLarge, match=f"at most {MAX_TEXT_CHARS} characters"):
        parse_event(message(1, "x" * (MAX_TEXT_CHARS + 1)))


def test_an_event_over_the_byte_limit_is_refused_before_anything_is_sent():
    # within the text limit, but control characters are escaped six bytes each in JSON
    events = [parse_event(message(1)), parse_event(message(2, "\x01" * MAX_TEXT_CHARS))]
    with pytest.raises(EventTooLarge, match=f"'e2': .* over the limit of {MAX_EVENT_BYTES:,} bytes"):
        to_checked_json(events)
    assert len(to_checked_json(events[:1])) == 1


def test_a_dead_letter_keeps_a_utf8_body_once_and_whole_when_it_fits():
    body = json.dumps({"text": "zażółć 😀" * 1000}, ensure_ascii=False).encode()
    letter = dead_letter("webhook:web", "demo", ["bad"], body, {"Authorization": "x", "X-A": "1"})
    assert letter["body"].encode() == body and "body_base64" not in letter and "body_truncated" not in letter
    assert letter["headers"] == {"x-a": "1"} and Letter("0:1", letter).body == body


@pytest.mark.parametrize("body", [b"a" * 3_000_000, "ł".encode() * 900_000, b"\xff\x00" * 700_000,
                                  b"\x01" * 1_000_000], ids=["ascii", "two-byte", "binary", "escaped"])
def test_a_dead_letter_that_would_not_fit_keeps_a_truncated_body_and_says_so(body):
    letter = dead_letter("events-api", "demo", ["too large"] * 500, body)
    assert len(encode_letter(letter)) <= MAX_RECORD_BYTES
    assert letter["body_truncated"] is True and letter["body_bytes"] == len(body)
    assert len(letter["reason"]) == 101 and letter["reason"][-1] == "... and 400 more problems"
    kept = Letter("0:1", letter).body
    assert body.startswith(kept) and len(kept) > MAX_RECORD_BYTES // 8
    with pytest.raises(ValueError, match="cut to fit"):
        reparse(Letter("0:1", letter))


def test_a_partitions_rows_of_a_table_are_split_into_as_few_records_as_fit_in_order():
    rows = [{"table": "messages", "bot_id": "b", "user_id": "web:u", "text": "x" * 300_000, "n": i} for i in range(7)]
    small = [{"table": "users", "bot_id": "b", "user_id": f"web:v{i}", "n": 90 + i} for i in range(3)]
    records = row_records([(2, rows[:4]), (0, small[:1]), (0, small[1:2]), (2, rows[4:]), (0, small[2:])])
    assert all(len(r.value) + len(r.users) <= MAX_RECORD_BYTES for _, r in records)
    assert [(partition, r.table, r.count) for partition, r in records] == [(2, "messages", 3), (2, "messages", 3),
                                                                           (2, "messages", 1), (0, "users", 3)]
    assert [row["n"] for _, r in records for row in json.loads(r.value)] == [0, 1, 2, 3, 4, 5, 6, 90, 91, 92]
    assert [json.loads(r.users) for _, r in records][2:] == [[["b", "web:u"]], [["b", f"web:v{i}"] for i in range(3)]]


def test_a_partitions_records_name_its_users_and_each_of_several_exactly_the_users_of_its_rows():
    rows = [{"table": "users", "bot_id": "b", "user_id": f"web:{i:05d}" + "u" * 40, "n": i} for i in range(3_000)]
    records = row_records([(1, [row]) for row in rows], limit=20_000)
    assert len(records) > 1 and all(len(r.value) + len(r.users) <= 20_000 for _, r in records)
    for _, r in records:
        assert json.loads(r.users) == [[row["bot_id"], row["user_id"]] for row in json.loads(r.value)]
    assert [row["n"] for _, r in records for row in json.loads(r.value)] == list(range(3_000))
    assert sum(r.count for _, r in records) == 3_000
    few = row_records([(1, [rows[0], {**rows[0], "table": "sessions"}]), (1, [rows[1]])])
    assert [(r.table, json.loads(r.users)) for _, r in few] == [("users", [["b", rows[0]["user_id"]], ["b", rows[1]["user_id"]]]),
                                                               ("sessions", [["b", rows[0]["user_id"]], ["b", rows[1]["user_id"]]])]


def fold(values, states=None, **kwargs):
    states = states or {}
    return fold_batch(((i, v) for i, v in enumerate(values)), lambda ref, key: states.get(key, Projected()),
                      score=score, window_for=lambda bot: timedelta(minutes=10), grace=timedelta(hours=24), **kwargs)


def test_an_unparsable_record_is_refused_and_the_rest_of_the_batch_is_folded():
    batch = fold([json.dumps(message(1)).encode(), b"{not json", json.dumps(message(2)).encode()])
    assert [(r.ref, r.bot_id) for r in batch.refused] == [(1, None)]
    [(key, (last, state))] = batch.states.items()
    assert key == b"demo:web:u1" and last == 2 and json.loads(state)["state"]["messages_sent"] == 2


def test_an_event_that_would_grow_the_state_past_its_limit_is_refused_and_changes_nothing():
    attrs = [{"kind": "attribute_set", "event_id": f"a{i}", "bot_id": "demo", "user_id": "web:u1",
              "occurred_at": AT.isoformat(), "key": f"k{i}", "value": "v" * 4000} for i in range(5)]
    batch = fold([json.dumps(a).encode() for a in attrs], max_state_bytes=10_000)
    assert [r.ref for r in batch.refused] == [2, 3, 4]
    assert "state would exceed 10,000 bytes" in batch.refused[0].reasons[0]
    [(_, state)] = batch.states.values()
    assert sorted(json.loads(state)["state"]["attributes"]) == ["k0", "k1"]
    newest = max((r for r in batch.rows if r["table"] == "users"), key=lambda r: r["version"])
    assert set(newest["attributes"]) == {"k0", "k1"}


def test_a_batch_of_only_duplicates_writes_no_state():
    first = fold([json.dumps(message(1)).encode()])
    [(_, state)] = first.states.values()
    again = fold([json.dumps(message(1)).encode()], {b"demo:web:u1": decode_state(state)})
    assert again.states == {} and again.rows == [] and again.refused == []


def test_long_texts_are_scored_in_pieces_that_cover_them_and_short_ones_whole():
    text = "great service " * 400
    parts = pieces(text)
    assert all(len(p) <= PIECE_CHARS for p in parts) and "".join(parts).replace(" ", "") == text.replace(" ", "")
    assert score(text) == pytest.approx(score("great service " * 30), abs=0.05)
    assert pieces("short") == ["short"]


def test_a_partition_with_lag_that_does_not_advance_is_stalled_and_recovers_when_it_moves():
    monitor = ProgressMonitor(stall_seconds=10)
    monitor.observe("g", "t", 0, committed=5, end=9, now=0)
    monitor.observe("g", "t", 1, committed=3, end=3, now=0)
    monitor.observe("g", "t", 0, committed=5, end=12, now=9.9)
    assert monitor.stalled(9.9) == []
    monitor.observe("g", "t", 1, committed=3, end=3, now=10)
    assert monitor.stalled(10) == ["g t[0]"]  # no lag on t[1]: idle, not stalled
    report = monitor.report(10)
    assert report["ok"] is False and report["groups"]["g"]["lag"] == 7
    monitor.observe("g", "t", 0, committed=6, end=12, now=11)
    assert monitor.stalled(20) == [] and monitor.stalled(21) == ["g t[0]"]


def test_progress_says_how_old_the_oldest_unprocessed_record_is_and_zero_once_caught_up():
    monitor = ProgressMonitor(stall_seconds=10)
    monitor.observe("g", "t", 0, committed=5, end=9, now=0, behind_seconds=12.5)
    monitor.observe("g", "t", 1, committed=2, end=3, now=0, behind_seconds=3.0)
    monitor.observe("sink", "rows", 0, committed=4, end=4, now=0, behind_seconds=None)
    report = monitor.report(1)
    assert report["behind_seconds"] == 12.5
    assert report["groups"]["g"]["behind_seconds"] == 12.5 and report["groups"]["sink"]["behind_seconds"] == 0
    assert report["groups"]["g"]["partitions"]["t[1]"]["behind_seconds"] == 3.0
    monitor.observe("g", "t", 0, committed=9, end=9, now=2, behind_seconds=12.5)
    monitor.observe("g", "t", 1, committed=3, end=3, now=2)
    assert monitor.report(2)["behind_seconds"] == 0


class Sent:
    def __init__(self, fail):
        self.fail, self.records, self.calls = fail, [], 0

    async def __call__(self, key, value):
        self.calls += 1
        error = self.fail(value, self.calls)
        fut = asyncio.get_running_loop().create_future()
        if error:
            fut.set_exception(error)
        else:
            self.records.append(value)
            fut.set_result(None)
        return fut


def test_a_record_kafka_refuses_is_dead_lettered_after_bounded_attempts_and_the_rest_is_sent():
    refused = []

    async def keep(record, reason):
        refused.append((record, reason))

    send = Sent(lambda value, _: MessageSizeTooLargeError() if value == b"big" else None)
    status = SinkStatus()
    asyncio.run(send_all(send, [(b"k", b"a"), (b"k", b"big"), (b"k", b"b")], status=status, on_refused=keep,
                         attempts=3, first_delay=0.001))
    assert send.records == [b"a", b"b"] and [r for r, _ in refused] == [(b"k", b"big")]
    assert "MessageSizeTooLargeError" in refused[0][1] and send.calls == 5 and status.ok


def test_an_outage_is_waited_out_however_long_it_lasts_and_nothing_is_dead_lettered():
    send = Sent(lambda value, calls: KafkaConnectionError() if calls <= 6 else None)
    refused = []

    async def keep(record, reason):
        refused.append(record)

    asyncio.run(send_all(send, [(None, b"a")], status=SinkStatus(), on_refused=keep, attempts=2, first_delay=0.001))
    assert send.records == [b"a"] and refused == []


def test_the_sink_isolates_the_item_that_fails_alone_while_the_store_answers():
    written, poisoned = [], []

    def write(batch):
        if "poison" in batch:
            raise ValueError("cannot store this")
        written.extend(batch)
        return len(batch)

    async def on_poison(item, reason):
        poisoned.append((item, reason))

    writer = RetryingWriter(write, first_delay=0.001, attempts=2, probe=lambda: None, on_poison=on_poison)
    items = [f"r{i}" for i in range(9)]
    items.insert(5, "poison")
    assert asyncio.run(writer.write(items)) == 9
    assert sorted(written) == sorted(f"r{i}" for i in range(9))
    assert poisoned == [("poison", "ValueError: cannot store this")] and writer.status.poisoned == 1


def test_the_sink_never_gives_up_on_an_outage_while_the_store_does_not_answer():
    calls = []

    def write(batch):
        calls.append(1)
        if len(calls) < 8:
            raise ConnectionError("store away")
        return len(batch)

    def probe():
        if len(calls) < 8:
            raise ConnectionError("store away")

    async def on_poison(item, reason):
        raise AssertionError("an outage is not a poison")

    writer = RetryingWriter(write, first_delay=0.001, max_delay=0.002, attempts=2, probe=probe, on_poison=on_poison)
    assert asyncio.run(writer.write(["a", "b"])) == 2 and len(calls) == 8


def test_a_crash_is_told_to_health_and_stops_the_worker_loudly():
    from pipeline.stream.supervision import guarded
    status, stopped = SinkStatus(), []

    async def crash():
        async with guarded("user-projection", status, stopped.append):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        asyncio.run(crash())
    assert (status.ok, status.crashed, status.last_error) == (False, True, "RuntimeError: boom")
    assert [type(e) for e in stopped] == [RuntimeError]
