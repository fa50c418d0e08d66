"""On the real broker and real ClickHouse SQL: a sink that takes partitions over, or reads records the stream
made while replaying, stores no raw event twice, and looks up only the raw events that may be stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer

from consumers.clickhouse import ClickHouseProjectionStore
from consumers.sink import KafkaSink, RetryingWriter
from pipeline.kafka import topics
from pipeline.kafka.codecs import RowsRecord, unpacked
from pipeline.stream.agents import replayed_partitions
from queries import events as sql
from tests.integration.test_kafka_broker import _create_topic
from tests.integration.test_sink_writes import BOT, Stream, event

pytestmark = pytest.mark.integration
RAW = "SELECT event_id FROM events WHERE bot_id = {b:String} ORDER BY event_id"  # no FINAL: every copy counts


class LookupsSeen:
    """The real client, noting the ids each stored-ids lookup asked for."""

    def __init__(self, client):
        self.client, self.looked_up = client, []

    def query(self, query, parameters=None, **kw):
        if query == sql.STORED_EVENT_IDS:
            self.looked_up += parameters["event_ids"]
        return self.client.query(query, parameters=parameters, **kw)

    def __getattr__(self, name):
        return getattr(self.client, name)


def records_of(records: list[RowsRecord]) -> list[tuple[bytes, list[tuple[str, bytes]]]]:
    """As the stream sends them: (value, headers)."""
    return [(record.value, record.headers()) for record in records]


async def until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def test_a_sink_taking_over_and_a_replaying_stream_store_each_raw_event_once(kafka_broker, clickhouse):
    topic, stream = _create_topic(kafka_broker.bootstrap, 1), Stream()
    client = LookupsSeen(clickhouse)
    store = ClickHouseProjectionStore(client)
    written = stream.batch([event("a", 0), event("b", 1)])
    store.write(written)   # a sink wrote these, then died before committing their offsets
    client.looked_up.clear()

    def raw() -> list[str]:
        return [r[0] for r in clickhouse.query(RAW, parameters={"b": BOT}).result_rows]

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
        await producer.start()
        sink = KafkaSink(kafka_broker.bootstrap, f"sink-{uuid.uuid4().hex[:8]}", rows=RetryingWriter(store.write),
                         batch_rows=1000, batch_seconds=0.2, batch_bytes=2**20, session_timeout_seconds=6,
                         topic=topic)
        try:
            for value, headers in records_of(written):
                await producer.send_and_wait(topic, value=value, partition=0, headers=headers)
            running = asyncio.create_task(sink.run())
            await until(lambda: sorted(client.looked_up) == ["a", "b"])   # its part of the log: looked up
            client.looked_up.clear()
            # the stream replayed its events after a crash and sent their raw events again, flagged; then a new one
            for value, headers in records_of(written):
                await producer.send_and_wait(topic, value=value, partition=0,
                                             headers=[*headers, (topics.REPLAYED_HEADER, b"1")])
            for value, headers in records_of(stream.batch([event("c", 2)])):
                await producer.send_and_wait(topic, value=value, partition=0, headers=headers)
            await until(lambda: raw() == ["a", "b", "c"])
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        finally:
            await producer.stop()

    asyncio.run(scenario())
    assert raw() == ["a", "b", "c"]
    assert sorted(client.looked_up) == ["a", "b"]   # the new event cost no read


def test_a_stream_batch_is_replayed_where_an_event_lies_below_its_partitions_replay_end():
    batch = [SimpleNamespace(message=SimpleNamespace(partition=p, offset=o)) for p, o in [(0, 9), (1, 10), (2, 0)]]
    assert replayed_partitions(batch, {0: 10, 1: 10}) == {0}
    assert replayed_partitions(batch, {}) == set()


def test_a_sink_writes_as_soon_as_its_records_reach_the_byte_budget(kafka_broker, clickhouse):
    """Raw-event records of about 12 KB under a 30,000-byte budget, with row and time limits that never bind:
    every write holds three records, the one that reached the budget included."""
    topic, stream = _create_topic(kafka_broker.bootstrap, 1), Stream()
    store = ClickHouseProjectionStore(clickhouse)
    writes: list[int] = []

    def write(items: list) -> int:
        writes.append(sum(row["table"] == "events" for item in items for row in unpacked(item)))
        return store.write(items)

    records = [(value, headers) for n in range(9)
               for value, headers in records_of(stream.batch([event(f"e{n}", n, text=f"{n} " + "big " * 3_000)]))
               if dict(headers)[topics.ROWS_TABLE_HEADER] == b"events"]
    assert len(records) == 9 and all(10_000 < len(value) < 15_000 for value, _ in records)

    async def scenario() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
        await producer.start()
        sink = KafkaSink(kafka_broker.bootstrap, f"sink-{uuid.uuid4().hex[:8]}", rows=RetryingWriter(write),
                         batch_rows=100_000, batch_seconds=600, batch_bytes=30_000, session_timeout_seconds=6,
                         topic=topic)
        try:
            for value, headers in records:
                await producer.send(topic, value=value, partition=0, headers=headers)
            await producer.flush()
            running = asyncio.create_task(sink.run())
            await until(lambda: sum(writes) == 9)
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        finally:
            await producer.stop()

    asyncio.run(scenario())
    assert writes == [3, 3, 3]
