"""Schedule definitions on the real broker: a worker's registry follows the compacted topic."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from pipeline.kafka import compacted, topics
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import KafkaPublisher
from pipeline.core.schedules import Schedule, ScheduleRegistry
from pipeline.kafka.codecs import decode_schedule

pytestmark = pytest.mark.integration


def test_the_registry_reads_the_topic_at_start_and_follows_later_writes(kafka_broker):
    ensure_topics(kafka_broker.bootstrap, 4)
    bot_id = f"bot{uuid.uuid4().hex[:8]}"
    a, b = (Schedule(f"s{i}{uuid.uuid4().hex[:6]}", bot_id, "newsletter", "* * * * *", ("user_id",), bot_id,
                     datetime(2026, 12, 1, tzinfo=UTC)) for i in range(2))

    async def scenario() -> None:
        publisher = KafkaPublisher(kafka_broker.bootstrap, 10)
        await publisher.start()
        registry = ScheduleRegistry()
        task = None
        try:
            for schedule, definition in ((a, a.to_json()), (b, b.to_json()), (a, None)):
                await publisher.schedule(bot_id, schedule.schedule_id, definition)
            read: list = []
            await compacted.read_current(kafka_broker.bootstrap, topics.SCHEDULES, decode_schedule, read.append)
            ours = [s for _, s in read if s is not None and s.bot_id == bot_id]   # per partition in order only
            assert sorted(ours, key=lambda s: s.schedule_id) == sorted([a, b], key=lambda s: s.schedule_id)
            task = asyncio.create_task(compacted.follow(kafka_broker.bootstrap, topics.SCHEDULES, decode_schedule,
                                                        registry.apply))
            async with asyncio.timeout(30):
                while registry.for_bot(bot_id) != [b]:
                    await asyncio.sleep(0.1)
            assert registry.was_deleted(bot_id, a.schedule_id)
            await publisher.schedule(bot_id, b.schedule_id, None)
            async with asyncio.timeout(30):
                while registry.for_bot(bot_id):
                    await asyncio.sleep(0.1)
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await publisher.stop()

    asyncio.run(scenario())
