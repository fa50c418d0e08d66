"""On the real broker: a seek to committed offsets leaves a never-committed partition past what was
fetched, which is why the stream consumer rewinds such partitions (pipeline/stream/consumer.py); and a
Faust worker with that consumer gets every event once, in order, when its deliveries have to wait."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.stream.consumer import uncommitted
from tests.integration.test_kafka_broker import _create_topic

pytestmark = pytest.mark.integration


async def fetched_then_sought(bootstrap: str, topic: str, *, rewind: bool) -> list[bytes]:
    """Fetch every record of partition 0 without committing, seek to committed, and read what comes next."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, value=f"{i}".encode(), partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=f"g-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([tp])
        fetched = []
        while len(fetched) < 5:                                    # what Faust fetched, then dropped
            fetched += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        committed = await consumer.seek_to_committed(tp)
        if rewind:
            fresh = uncommitted(committed, {topic})
            await consumer.seek_to_beginning(*fresh)
        again = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return [record.value for record in again]
    finally:
        await consumer.stop()


def test_seeking_to_committed_leaves_an_uncommitted_partition_past_what_was_fetched(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 1)
    assert asyncio.run(fetched_then_sought(kafka_broker.bootstrap, topic, rewind=False)) == []


def test_rewinding_the_uncommitted_partition_reads_it_again_from_the_start(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 1)
    assert asyncio.run(fetched_then_sought(kafka_broker.bootstrap, topic, rewind=True)) == [b"0", b"1", b"2", b"3",
                                                                                            b"4"]


async def produce(bootstrap: str, topic: str, sent: dict[int, list[str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=1_048_576)
    await producer.start()
    try:
        for partition, values in sent.items():
            for value in values:
                await producer.send(topic, value=value.encode(), partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def received_by_slow_agent(bootstrap: str, topic: str, count: int, out, budget: int | None = None
                           ) -> tuple[dict[int, list[str]], list[int]]:
    """The values tests.support.slow_agent received per partition, and the bytes held at each batch (budget)."""
    subprocess.run([sys.executable, "-m", "tests.support.slow_agent", bootstrap, topic, str(count), str(out),
                    *([] if budget is None else [str(budget)])],
                   check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    received: dict[int, list[str]] = {0: [], 1: []}
    held = []
    for line in out.read_text().splitlines():
        if line.startswith("held "):
            held.append(int(line.split()[1]))
            continue
        partition, _, value = line.split()
        received[int(partition)].append(value)
    return received, held


def test_a_stream_slower_than_its_topic_gets_every_event_once_in_order(kafka_broker, tmp_path):
    """Deliveries that wait on the full stream (about a third of them here) go on once it has room: none is
    lost, repeated or reordered."""
    topic = _create_topic(kafka_broker.bootstrap, 2)
    sent = {0: [f"p0-{i}" for i in range(150)], 1: [f"p1-{i}" for i in range(150)]}
    asyncio.run(produce(kafka_broker.bootstrap, topic, sent))
    received, _ = received_by_slow_agent(kafka_broker.bootstrap, topic, 300, tmp_path / "received.txt")
    assert received == sent


def test_a_stream_holds_its_events_under_the_byte_budget_and_gets_every_one_once_in_order(kafka_broker, tmp_path):
    """Events of 3-15 KB under a 40 KB budget, with a 100-event batch and a 4,096-event buffer that would
    hold them all: the stream never holds more than the budget, and an event larger than the whole budget
    still goes through (alone)."""
    topic = _create_topic(kafka_broker.bootstrap, 2)
    budget = 40_000
    sizes = [3_000 + (i * 7_919) % 12_000 for i in range(120)]
    sizes[60] = 55_000  # larger than the budget
    sent = {p: [f"p{p}-{i}-".ljust(size, "x") for i, size in enumerate(sizes)] for p in (0, 1)}
    asyncio.run(produce(kafka_broker.bootstrap, topic, sent))
    received, held = received_by_slow_agent(kafka_broker.bootstrap, topic, 240, tmp_path / "received.txt", budget)
    assert received == sent
    assert all(h <= budget or h == 55_000 for h in held), held
    assert len(held) >= sum(sizes) * 2 // budget  # batches of the budget's size, not of 100 events
