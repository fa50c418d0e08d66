"""Following a compacted topic: the latest record per key is the state every worker holds in memory.

Used for run-time bot settings, segment definitions and export schedules. A worker reads the topic to
its end before it processes anything (`read_current`), then follows it for the rest of its life (`follow`), so every worker
converges on the same state. `parse(record)` turns a Kafka record into an item (None skips it) and
`apply(item)` folds it into the caller's state; a record `parse` cannot read is logged and skipped, so
one bad record never stops a worker. Records of one key stay in order (one key, one partition).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pipeline.kafka.topic_reader import from_beginning, read_to_end, records_to_end

log = logging.getLogger(__name__)

Item = TypeVar("Item")


def parse_or_skip(topic: str, parse: Callable[[Any], Item | None], record: Any) -> Item | None:
    try:
        return parse(record)
    except Exception as e:  # noqa: BLE001 - a bad record is skipped, not fatal
        log.warning("ignoring unreadable record of %s at offset %s: %s", topic, getattr(record, "offset", "?"), e)
        return None


async def read_current(bootstrap: str, topic: str, parse: Callable[[Any], Item | None],
                       apply: Callable[[Item], None]) -> int:
    """Apply every record up to the topic's current end, oldest first per key; returns how many applied."""
    applied = 0
    for record in await read_to_end(bootstrap, topic):
        if (item := parse_or_skip(topic, parse, record)) is not None:
            apply(item)
            applied += 1
    return applied


async def follow(bootstrap: str, topic: str, parse: Callable[[Any], Item | None],
                 apply: Callable[[Item], None]) -> None:
    """Apply every record of the topic, from the beginning, forever (no consumer group: nothing committed).

    What the topic holds when this starts is applied in one go, without yielding to the event loop, so no
    other task sees a state the topic has already moved past (a schedule created and since deleted, say).
    """
    async with from_beginning(bootstrap, topic) as (consumer, partitions):
        for record in await records_to_end(consumer, partitions):
            if (item := parse_or_skip(topic, parse, record)) is not None:
                apply(item)
        while True:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    if (item := parse_or_skip(topic, parse, record)) is not None:
                        apply(item)
