"""The publisher on the real broker: a request's events go out in batches per partition (record by record when a
partition has only a few), each user's events on the partition a plain producer puts its key on, in the order of
the request."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.kafka import topics
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import BATCH_FROM, KafkaPublisher, dead_letter
from schemas.events import Message, parse_event
from tests.integration.test_kafka_broker import _create_topic

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 5, 12, tzinfo=UTC)


def messages(bot: str, users: int, each: int, text: str = "hi") -> list[Message]:
    """`each` messages of every user, interleaved across users as a bulk request mixes them."""
    return [parse_event({"event_id": f"{user}-{n}", "bot_id": bot, "user_id": f"web:u{user}", "kind": "message",
                         "direction": "inbound", "channel": "web", "text": text,
                         "occurred_at": (AT + timedelta(seconds=n)).isoformat()})
            for n in range(each) for user in range(users)]


async def published(bootstrap: str, events: list[Message]) -> None:
    publisher = KafkaPublisher(bootstrap, 30)
    await publisher.start()
    try:
        await publisher.publish(events)
    finally:
        await publisher.stop()


async def read_topic(bootstrap: str, topic: str, bot: str) -> list[tuple[int, bytes, str]]:
    """(partition, key, event_id) of the bot's records on the topic, each partition in its order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(4)]   # the session's broker makes topics of 4
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        found: list[tuple[int, bytes, str]] = []
        async with asyncio.timeout(30):
            while any([await consumer.position(tp) < ends[tp] for tp in tps]):
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    found += [(tp.partition, r.key, parse_event(r.value).event_id) for r in records
                              if r.key.startswith(f"{bot}:".encode())]
        return found
    finally:
        await consumer.stop()


async def placed_by_a_plain_producer(bootstrap: str, keys: list[bytes]) -> dict[bytes, int]:
    """Where aiokafka's own send puts each key, on a topic with as many partitions as the events topic."""
    topic = _create_topic(bootstrap, 4)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        return {key: (await producer.send_and_wait(topic, key=key, value=b"x")).partition for key in keys}
    finally:
        await producer.stop()


@pytest.mark.parametrize("users, each, batched", [(12, 40, True), (3, 2, False)],
                         ids=["in batches", "record by record"])
def test_each_users_events_reach_the_partition_of_its_key_in_the_order_of_the_request(kafka_broker, users, each,
                                                                                     batched):
    ensure_topics(kafka_broker.bootstrap, partitions=4)
    bot = f"publisher-{batched}"   # fixed: its users' placement, spread over partitions, is the same every run
    events = messages(bot, users=users, each=each)
    asyncio.run(published(kafka_broker.bootstrap, events))

    found = asyncio.run(read_topic(kafka_broker.bootstrap, topics.EVENTS, bot))
    assert sorted(event_id for _, _, event_id in found) == sorted(e.event_id for e in events)   # each once
    per_partition = Counter(partition for partition, _, _ in found).values()
    assert (min(per_partition) >= BATCH_FROM) if batched else (max(per_partition) < BATCH_FROM)   # the path meant
    for user in range(users):
        key = f"{bot}:web:u{user}".encode()
        assert [event_id for _, k, event_id in found if k == key] == [f"{user}-{n}" for n in range(each)]
    placed = asyncio.run(placed_by_a_plain_producer(kafka_broker.bootstrap, sorted({k for _, k, _ in found})))
    assert {(partition, key) for partition, key, _ in found} == {(p, k) for k, p in placed.items()}
    assert len(set(placed.values())) > 1   # the users are spread: the check above compares placements


def test_a_request_larger_than_a_batch_goes_out_whole_and_in_order(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, partitions=4)
    bot = f"pub{uuid.uuid4().hex[:8]}"
    events = messages(bot, users=1, each=400, text="x" * 4_000)   # 1.6 MB on one partition: four batches or more
    asyncio.run(published(kafka_broker.bootstrap, events))

    found = asyncio.run(read_topic(kafka_broker.bootstrap, topics.EVENTS, bot))
    assert [event_id for _, _, event_id in found] == [f"0-{n}" for n in range(400)]


def test_a_keyless_record_reaches_its_topic(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, partitions=4)
    marker = f"keyless-{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[bytes]:
        publisher = KafkaPublisher(kafka_broker.bootstrap, 30)
        await publisher.start()
        try:
            await publisher.dead_letter(dead_letter("events-api", None, [marker], b"{}"))
        finally:
            await publisher.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=kafka_broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            tps = [TopicPartition(topics.DEAD_LETTERS, p) for p in range(4)]
            consumer.assign(tps)
            ends, found = await consumer.end_offsets(tps), []
            async with asyncio.timeout(30):
                while any([await consumer.position(tp) < ends[tp] for tp in tps]):
                    for records in (await consumer.getmany(timeout_ms=500)).values():
                        found += [r.key for r in records if marker.encode() in r.value]
            return found
        finally:
            await consumer.stop()

    assert asyncio.run(scenario()) == [None]
