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

log = logging.getLogger(__name__)


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
        for tp in partitions:
            if tp.topic in names:
                at = committed.get(tp)
                position = at.offset if at is not None and at.offset >= 0 else starts[tp]
                monitor.observe(group, tp.topic, tp.partition, position, ends[tp], now)
