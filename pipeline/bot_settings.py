"""Run-time bot settings: changed through the API, kept on a compacted topic every worker follows.

The log is the source of truth here too: a worker that starts reads the topic from the beginning,
so every worker applies the same inactivity window. A change applies to events processed after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict, Field

from pipeline import topics
from pipeline.kafka_admin import partition_count
from pipeline.topic_reader import read_to_end

log = logging.getLogger(__name__)


class BotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inactivity_minutes: float = Field(gt=0, le=24 * 60, description="session window in minutes (default 10)")


def _parse(record) -> tuple[str, BotSettings] | None:
    try:
        return record.key.decode(), BotSettings.model_validate(json.loads(record.value))
    except (ValueError, AttributeError) as e:
        log.warning("ignoring bad bot settings record at offset %d: %s", record.offset, e)
        return None


async def current(bootstrap: str) -> dict[str, BotSettings]:
    """The latest settings of every bot, read before the worker processes anything."""
    latest = {}
    for record in await read_to_end(bootstrap, topics.BOT_SETTINGS):
        if parsed := _parse(record):
            latest[parsed[0]] = parsed[1]
    return latest


async def follow(bootstrap: str, apply: Callable[[str, BotSettings], None]) -> None:
    """Apply every record of the settings topic, from the beginning, forever."""
    count = await asyncio.to_thread(partition_count, bootstrap, topics.BOT_SETTINGS)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topics.BOT_SETTINGS, p) for p in range(count)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while True:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for parsed in filter(None, map(_parse, records)):
                    apply(*parsed)
    finally:
        await consumer.stop()
