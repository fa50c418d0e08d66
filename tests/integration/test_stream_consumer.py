"""On the real broker: a seek to committed offsets leaves a never-committed partition past what was
fetched, which is why the stream consumer rewinds such partitions (pipeline/stream/consumer.py)."""

from __future__ import annotations

import asyncio
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
