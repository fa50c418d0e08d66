"""Following a compacted topic into memory: read it to its end, apply that at once, then every new record.

The shape `follow(bootstrap, topic, parse, apply)` is the one the bot settings follower is being
generalised into; schedules use this one until the two are merged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline.kafka_admin import partition_count
from pipeline.topic_reader import read_to_end

T = TypeVar("T")


async def current(bootstrap: str, topic: str, parse: Callable[[Any], T | None]) -> list[T]:
    """Every parsed record of the topic as it is now, oldest first per partition (bad records: parse says None)."""
    return [item for item in map(parse, await read_to_end(bootstrap, topic)) if item is not None]


async def follow(bootstrap: str, topic: str, parse: Callable[[Any], T | None], apply: Callable[[T], None]) -> None:
    """Apply every record of the topic, from the beginning, forever (no consumer group, nothing committed).

    What the topic holds at the start is applied in one go, without yielding to the event loop, so no other
    task sees a state the topic has already moved past (a schedule created and since deleted, say).
    """
    records = await read_to_end(bootstrap, topic)
    for item in map(parse, records):
        if item is not None:
            apply(item)
    following = {}
    for record in records:
        following[record.partition] = max(following.get(record.partition, 0), record.offset + 1)
    count = await asyncio.to_thread(partition_count, bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(partitions)
        for tp in partitions:
            if tp.partition in following:
                consumer.seek(tp, following[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        while True:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                for item in map(parse, batch):
                    if item is not None:
                        apply(item)
    finally:
        await consumer.stop()
