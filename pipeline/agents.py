"""Faust agents: short loops that call the pure code; the ClickHouse sink runs beside them."""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime

import faust
from faust import streams as faust_streams

from consumers.schedules import ScheduleExecutor
from consumers.sink import KafkaSink, RetryingWriter, SinkStatus
from pipeline import bot_settings, compacted, schedules, segments, topics
from pipeline.projection import Projected, by_user, coalesce, encode_rows, project
from pipeline.publisher import Publisher, PublishUnavailable, dead_letter
from pipeline.sentiment import score
from pipeline.services import Services
from schemas.events import InvalidEvent, parse_event

log = logging.getLogger(__name__)


def on_partition_of(message: faust.EventT) -> None:
    """Point Faust's table at this message's partition (its store and changelog follow the current event).

    A noack_take batch spans partitions, so this is set per message. Only the context variable is set:
    the stream's own `current_event` attribute feeds noack_take's buffer, and changing it loses events.
    """
    faust_streams._current_event.set(weakref.ref(message))


async def request_due_runs(candidates: Iterable[schedules.Schedule], publisher: Publisher,
                           requested: dict[str, datetime], now: datetime) -> list[schedules.RunRequest]:
    """Publish a run request for every due schedule and remember it; Kafka down: asked again next tick."""
    sent = []
    for schedule, at in schedules.due_runs(candidates, now, requested):
        request = schedules.scheduled_run(schedule, at)
        try:
            await publisher.schedule_run(schedule.schedule_id, request.to_json())
        except PublishUnavailable as e:
            log.warning("schedule run %s not requested (%s); trying again at the next tick", request.run_id, e)
            break
        requested[schedule.key] = at
        sent.append(request)
    return sent


def register(app: faust.App, events_topic: faust.TopicT, dead_letters: faust.TopicT, rows_topic: faust.TopicT,
             services: Services) -> None:
    settings = services.settings
    # keys are the events' own Kafka keys (raw bytes); values JSON (faust's defaults)
    table = app.Table("user-projection", default=None, key_type=bytes, partitions=settings.partitions)

    @app.agent(events_topic, name="user-projection", concurrency=1)
    async def project_users(stream: faust.StreamT) -> None:
        async for batch in stream.noack_take(settings.sink_batch_size, within=settings.sink_batch_seconds):
            pending: dict[bytes, Projected] = {}
            rows = []
            for message in batch:                                   # faust Event: .key bytes, .value bytes
                try:
                    event = parse_event(message.value)
                except InvalidEvent as e:
                    letter = dead_letter("events-topic", None, e.problems, message.value)
                    await (await dead_letters.send(value=json.dumps(letter).encode()))
                    continue
                on_partition_of(message)
                key = topics.event_key(event)
                current = pending.get(key) or Projected.from_dict(table.get(key))
                pending[key], new_rows = project(current, event, score=score, grace=services.grace,
                                                 window=services.window_for(event.bot_id))
                rows += new_rows
            # Rows reach Kafka before the table changes: a crash in between replays into identical rows.
            sent = [await rows_topic.send(key=key, value=encode_rows(user_rows))
                    for key, user_rows in by_user(coalesce(rows)).items()]
            await asyncio.gather(*sent)
            for message in batch:
                on_partition_of(message)
                key = message.key
                if key in pending:
                    table[key] = pending.pop(key).to_dict()
            for message in batch:
                await stream.ack(message)

    @app.task
    async def follow_bot_settings() -> None:
        await bot_settings.follow(settings.bootstrap, services.apply_bot_settings)

    @app.task
    async def follow_segments() -> None:
        await compacted.follow(settings.bootstrap, topics.SEGMENTS, segments.parse, services.segments.apply)

    @app.task
    async def follow_schedules() -> None:
        await compacted.follow(settings.bootstrap, topics.SCHEDULES, schedules.parse_record, services.schedules.apply)

    requested: dict[str, datetime] = {}  # schedule key -> the latest run this worker asked for while leader

    @app.timer(interval=5.0, on_leader=True)
    async def request_scheduled_runs() -> None:
        # one worker of the group (the leader) decides; the executor makes a repeated request harmless
        served = [s for s in services.schedules.all() if s.bot_id in services.bots]
        try:
            await request_due_runs(served, services.publisher, requested, datetime.now(UTC))
        except Exception:  # noqa: BLE001 - e.g. the publisher not started yet: logged, tried again next tick
            log.exception("scheduled runs not requested at this tick")

    if settings.sink_enabled and services.store is not None and services.projections is not None:
        sink = KafkaSink(
            settings.bootstrap, f"{settings.app_id}-sink", batch_size=settings.sink_batch_size,
            batch_seconds=settings.sink_batch_seconds, session_timeout_seconds=settings.session_timeout_seconds,
            events=RetryingWriter(services.store.write, status=services.sinks.setdefault("events", SinkStatus())),
            rows=RetryingWriter(services.projections.write, status=services.sinks.setdefault("rows", SinkStatus())))

        @app.task
        async def clickhouse_sink() -> None:
            await sink.run()

    if settings.sink_enabled and services.clickhouse is not None:
        executor = ScheduleExecutor(services.clickhouse, settings.schedule_dir, services.bots,
                                    registry=services.schedules, dynamic_segments=services.segments.dynamic_filters)

        @app.task
        async def scheduled_exports() -> None:
            await executor.run(settings.bootstrap, f"{settings.app_id}-schedules",
                               session_timeout_seconds=settings.session_timeout_seconds)
