"""Reading a whole topic without a consumer group (nothing committed): as it is now, or followed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from pipeline.kafka.admin import partition_count


@asynccontextmanager
async def from_beginning(bootstrap: str, topic: str) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A consumer assigned every partition of the topic, at its first offset (no partitions: it does not exist)."""
    count = await asyncio.to_thread(partition_count, bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


async def read_to_end(bootstrap: str, topic: str, limit: int = 1_000_000,
                      timeout: float = 60.0) -> list[ConsumerRecord]:
    """Every record up to the current end offsets, oldest first per partition."""
    async with from_beginning(bootstrap, topic) as (consumer, partitions):
        return await records_to_end(consumer, partitions, limit, timeout)


async def records_to_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], limit: int = 1_000_000,
                         timeout: float = 60.0) -> list[ConsumerRecord]:
    """What the consumer has still to read up to the end offsets as they are now; it is left just past them."""
    if not partitions:
        return []
    ends = await consumer.end_offsets(partitions)
    records: list[ConsumerRecord] = []
    async with asyncio.timeout(timeout):
        while len(records) < limit and [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
    return records[:limit]
