"""The local broker really speaks Kafka to the clients chatlens uses (aiokafka, kafka-python)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from pipeline.kafka import topics
from pipeline.kafka.admin import TopicMismatch, ensure_topics

pytestmark = pytest.mark.integration


def _create_topic(bootstrap: str, partitions: int) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(name, partitions, 1)])
    admin.close()
    return name


def test_produce_then_consume_round_trips_keys_and_values(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 4)

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        for i in range(20):
            await producer.send_and_wait(topic, value=f"v{i}".encode(), key=f"user-{i % 3}".encode())
        await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker.bootstrap, auto_offset_reset="earliest",
                                    group_id=None)
        await consumer.start()
        got = []
        async with asyncio.timeout(30):
            while len(got) < 20:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got += [(r.key, r.value, r.partition) for r in records]
        await consumer.stop()
        return got

    got = asyncio.run(scenario())
    assert sorted(v for _, v, _ in got) == sorted(f"v{i}".encode() for i in range(20))
    partitions_by_key = {}
    for key, _, partition in got:
        partitions_by_key.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partitions_by_key.values()), "one key must stay on one partition"


def test_two_consumers_in_one_group_split_the_partitions(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 4)
    group = f"g-{uuid.uuid4().hex[:8]}"

    async def scenario():
        consumers = [AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker.bootstrap, group_id=group,
                                      auto_offset_reset="earliest", session_timeout_ms=6000,
                                      heartbeat_interval_ms=500) for _ in range(2)]
        for c in consumers:
            await c.start()
        async with asyncio.timeout(60):
            while True:
                await asyncio.gather(*(c.getmany(timeout_ms=200) for c in consumers))
                assigned = [c.assignment() for c in consumers]
                if all(assigned) and not (assigned[0] & assigned[1]) and len(assigned[0] | assigned[1]) == 4:
                    break
        for c in consumers:
            await c.stop()
        return assigned

    first, second = asyncio.run(scenario())
    assert len(first) == 2 and len(second) == 2


def test_committed_offsets_resume_a_group_where_it_stopped(kafka_broker):
    topic = _create_topic(kafka_broker.bootstrap, 1)
    group = f"g-{uuid.uuid4().hex[:8]}"

    async def read(n: int) -> list[bytes]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_broker.bootstrap, group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        got = []
        async with asyncio.timeout(30):
            while len(got) < n:
                for records in (await consumer.getmany(timeout_ms=300, max_records=n - len(got))).values():
                    got += [r.value for r in records]
        await consumer.commit()
        await consumer.stop()
        return got

    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
        await producer.start()
        for i in range(6):
            await producer.send_and_wait(topic, value=str(i).encode())
        await producer.stop()
        return await read(4), await read(2)

    first, second = asyncio.run(scenario())
    assert first == [b"0", b"1", b"2", b"3"] and second == [b"4", b"5"]


def test_ensure_topics_creates_every_topic_with_the_configured_partitions(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, partitions=4)
    ensure_topics(kafka_broker.bootstrap, partitions=4)  # idempotent
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(topics.ALL))}
    admin.close()
    assert described == {name: 4 for name in topics.ALL}


def test_ensure_topics_refuses_a_partition_count_that_differs(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, partitions=4)
    with pytest.raises(TopicMismatch, match="has 4 partitions but CHATLENS_PARTITIONS=8"):
        ensure_topics(kafka_broker.bootstrap, partitions=8)


def test_broker_does_not_auto_create_topics(kafka_broker):
    async def scenario():
        producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap, request_timeout_ms=3000)
        await producer.start()
        try:
            async with asyncio.timeout(10):
                await producer.send_and_wait(f"never-created-{uuid.uuid4().hex[:6]}", b"x")
        finally:
            await producer.stop()

    with pytest.raises((KafkaError, TimeoutError)):
        asyncio.run(scenario())
