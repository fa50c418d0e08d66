"""The compacted-topic follower on the real broker: what bot settings and segment definitions are read with."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer

from pipeline.core import segments
from pipeline.core.segments import SegmentChange
from pipeline.kafka import codecs, compacted, topics
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import KafkaPublisher
from schemas.segments import Segment
from tests.integration.test_kafka_broker import _create_topic

pytestmark = pytest.mark.integration


def parse(record) -> tuple[str, str] | None:
    """Test items: (key, value); a tombstone is skipped, a value that is not ASCII is unreadable."""
    return None if record.value is None else (record.key.decode(), record.value.decode("ascii"))


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, key=key, value=value)
    finally:
        await producer.stop()


def test_the_current_records_are_applied_in_order_skipping_tombstones_and_unreadable_ones(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 4)
    asyncio.run(produce(kafka_broker.bootstrap, topic, [(b"a", b"1"), (b"b", "é".encode()), (b"a", b"2"),
                                                        (b"c", None), (b"c", b"3")]))
    applied: list[tuple[str, str]] = []
    assert asyncio.run(compacted.read_current(kafka_broker.bootstrap, topic, parse, applied.append)) == 3
    assert [item for item in applied if item[0] == "a"] == [("a", "1"), ("a", "2")]   # one key keeps its order
    assert sorted(applied) == [("a", "1"), ("a", "2"), ("c", "3")]


def test_following_applies_what_was_there_and_what_comes_later(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 4)

    async def scenario() -> list[tuple[str, str]]:
        await produce(kafka_broker.bootstrap, topic, [(b"a", b"1")])
        applied: list[tuple[str, str]] = []
        task = asyncio.create_task(compacted.follow(kafka_broker.bootstrap, topic, parse, applied.append))
        try:
            await asyncio.sleep(1)
            await produce(kafka_broker.bootstrap, topic, [(b"a", b"2"), (b"b", "é".encode()), (b"b", b"3")])
            async with asyncio.timeout(30):
                while len(applied) < 3:
                    await asyncio.sleep(0.1)
        finally:
            task.cancel()
        return applied

    assert sorted(asyncio.run(scenario())) == [("a", "1"), ("a", "2"), ("b", "3")]


def test_segment_definitions_published_by_a_worker_read_back_into_a_registry(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, 4)
    bot = f"bot{uuid.uuid4().hex[:8]}"
    at = datetime(2026, 11, 1, tzinfo=UTC)
    defined = Segment(segment_id="vip", name="VIP", kind="static", created_at=at, updated_at=at)

    async def scenario() -> segments.SegmentRegistry:
        publisher = KafkaPublisher(kafka_broker.bootstrap, 10)
        await publisher.start()
        try:
            await publisher.segment(SegmentChange(bot, "vip", defined, defined.updated_at))
            old = defined.model_copy(update={"segment_id": "old"})
            await publisher.segment(SegmentChange(bot, "old", old, old.updated_at))
            await publisher.segment(SegmentChange(bot, "old", None, at))
        finally:
            await publisher.stop()
        registry = segments.SegmentRegistry()
        await compacted.read_current(kafka_broker.bootstrap, topics.SEGMENTS, codecs.decode_segment, registry.apply)
        return registry

    assert asyncio.run(scenario()).list(bot) == [defined]
