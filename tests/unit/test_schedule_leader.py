"""The leader's tick: due schedules become run requests on Kafka, each asked for once by this leader."""

import asyncio
from datetime import UTC, datetime, timedelta

from pipeline.stream.agents import request_due_runs
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.core.schedules import Schedule

NOW = datetime(2026, 12, 1, 12, 0, 3, tzinfo=UTC)
EVERY_MINUTE = Schedule("s1", "demo", "newsletter", "* * * * *", ("user_id",), "demo",
                        datetime(2026, 11, 1, tzinfo=UTC))


def test_a_due_run_is_requested_once_per_cron_time_keyed_by_schedule():
    publisher, requested = MemoryPublisher(), {}
    for tick in range(3):   # three ticks within one minute
        asyncio.run(request_due_runs([EVERY_MINUTE], publisher, requested, NOW + timedelta(seconds=5 * tick)))
    asyncio.run(request_due_runs([EVERY_MINUTE], publisher, requested, NOW + timedelta(minutes=1)))
    assert [(key, r["run_id"], r["file"]) for key, r in publisher.schedule_runs] == [
        ("s1", "s1@20261201T120000Z", "newsletter-20261201T120000Z.csv"),
        ("s1", "s1@20261201T120100Z", "newsletter-20261201T120100Z.csv")]


def test_a_request_kafka_did_not_take_is_asked_for_again_at_the_next_tick():
    publisher, requested = MemoryPublisher(), {}
    publisher.available = False
    assert asyncio.run(request_due_runs([EVERY_MINUTE], publisher, requested, NOW)) == [] and requested == {}
    publisher.available = True
    [sent] = asyncio.run(request_due_runs([EVERY_MINUTE], publisher, requested, NOW + timedelta(seconds=5)))
    assert sent.run_id == "s1@20261201T120000Z" and requested == {"demo:s1": datetime(2026, 12, 1, 12, tzinfo=UTC)}
