"""Feeds the ProgressMonitor: every few seconds, each group's committed offsets against the topics' ends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError

from pipeline.core.progress import ProgressMonitor
from pipeline.kafka import topics as chatlens_topics

log = logging.getLogger(__name__)


def sink_group(app_id: str) -> str:
    return f"{app_id}-sink"


def stream_groups(app_id: str) -> dict[str, list[str]]:
    """The groups whose progress /health reports: Faust's reads the events, the sink's the rows."""
    return {app_id: [chatlens_topics.EVENTS], sink_group(app_id): [chatlens_topics.ROWS]}


async def watch(bootstrap: str, groups: Mapping[str, Sequence[str]], monitor: ProgressMonitor,
                interval: float = 5.0) -> None:
    """groups: consumer group -> the topics it consumes. Runs until cancelled; a failed look is reported."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chatlens-progress")
    offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, client_id="chatlens-progress", group_id=None,
                               enable_auto_commit=False)
    await admin.start()
    await offsets.start()
    try:
        while True:
            try:
                await look(admin, offsets, groups, monitor)
            except Exception as e:  # noqa: BLE001 - Kafka away: /health says so through the publisher too
                monitor.failed(f"{type(e).__name__}: {str(e)[:200]}")
            await asyncio.sleep(interval)
    finally:
        await offsets.stop()
        await admin.close()


async def look(admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer, groups: Mapping[str, Sequence[str]],
               monitor: ProgressMonitor) -> None:
    topics = sorted({t for names in groups.values() for t in names})
    described = await admin.describe_topics(topics)
    partitions = sorted(TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"])
    if not partitions:
        return
    ends = await offsets.end_offsets(partitions)
    starts = await offsets.beginning_offsets(partitions)
    now = time.monotonic()
    for group, names in groups.items():
        try:
            committed = await admin.list_consumer_group_offsets(group)
        except GroupCoordinatorNotAvailableError:
            committed = {}  # the group has never committed (Kafka's offsets topic may not exist yet)
        positions = {}
        for tp in partitions:
            if tp.topic in names:
                at = committed.get(tp)
                positions[tp] = at.offset if at is not None and at.offset >= 0 else starts[tp]
        behind = await _oldest_unprocessed(offsets, {tp: p for tp, p in positions.items() if p < ends[tp]})
        for tp, position in positions.items():
            monitor.observe(group, tp.topic, tp.partition, position, ends[tp], now, behind.get(tp))


async def _oldest_unprocessed(offsets: AIOKafkaConsumer, positions: Mapping[TopicPartition, int]) -> dict:
    """Seconds since the first unprocessed record of each lagging partition was produced (its timestamp)."""
    if not positions:
        return {}
    offsets.assign(list(positions))
    for tp, position in positions.items():
        offsets.seek(tp, position)
    fetched = await offsets.getmany(timeout_ms=1000, max_records=len(positions) * 4)
    wall = time.time()
    return {tp: round(max(0.0, wall - records[0].timestamp / 1000), 1) for tp, records in fetched.items() if records}
