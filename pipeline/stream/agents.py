"""Faust agents: short loops that call the pure code; the ClickHouse sink runs beside them."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime

import faust
from faust import streams as faust_streams

from consumers.schedules import ScheduleExecutor
from consumers.sink import KafkaSink, RetryingWriter, SinkStatus
from pipeline.core import schedules
from pipeline.core.progress import ProgressMonitor
from pipeline.core.projection import Projected
from pipeline.core.sentiment import score
from pipeline.kafka import codecs, compacted, group_lag, topics
from pipeline.kafka.codecs import decode_state, encode_letter, encode_row, row_records, unpacked
from pipeline.kafka.publisher import Publisher, PublishUnavailable, dead_letter
from pipeline.services import Services
from pipeline.stream import read_ahead
from pipeline.stream import sends as stream_sends
from pipeline.stream.fold_batch import BatchFolder
from pipeline.stream.supervision import guarded

log = logging.getLogger(__name__)
BREATH_SECONDS = 0.02  # the longest the projection holds the event loop between two records


async def _lost_letter(record: tuple[bytes | None, bytes], reason: str) -> None:
    log.error("a dead letter of %d bytes was refused by Kafka (%s): it is only in this log", len(record[1]), reason)


def on_partition_of(message: faust.EventT) -> None:
    """Point Faust's table at this message's partition (its store and changelog follow the current event).

    A noack_take batch spans partitions, so this is set per message. Only the context variable is set:
    the stream's own `current_event` attribute feeds noack_take's buffer, and changing it loses events.
    """
    faust_streams._current_event.set(weakref.ref(message))


def replayed_partitions(batch: Iterable[faust.EventT], replay_until: dict[int, int]) -> set[int]:
    """The partitions of the batch with an event below where its replay ends (see StreamConsumer)."""
    return {m.message.partition for m in batch if m.message.offset < replay_until.get(m.message.partition, -1)}


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


STATE_WRITE_BUFFER_BYTES = 16 * 2**20


def state_store_options(cache_mib: int) -> dict[str, int]:
    """RocksDB sizes of the state table: Faust's defaults (a 2 GiB block cache and 3 x 64 MiB write buffers
    per partition) let a worker's memory grow with the users it holds instead of staying bounded."""
    return {"block_cache_size": cache_mib * 2**20, "write_buffer_size": STATE_WRITE_BUFFER_BYTES,
            "max_write_buffer_number": 2}


def register(app: faust.App, events_topic: faust.TopicT, dead_letters: faust.TopicT, rows_topic: faust.TopicT,
             services: Services) -> None:
    settings = services.settings
    # keys are the events' own Kafka keys, values the user's encoded state (pipeline.kafka.codecs.encode_state);
    # and the id index (pipeline.stream.id_index): the folded ids a state forgot. Both in one table, so in one
    # changelog partition per user, in order: a state on the changelog implies the ids written before it.
    table = app.Table("user-projection", default=None, key_type=bytes, value_type=bytes,  # bytes: the raw codec
                      partitions=settings.partitions, options=state_store_options(settings.state_cache_mib))
    status = services.agents.setdefault("user-projection", SinkStatus())

    async def send_letter(key: bytes | None, value: bytes):
        return await dead_letters.send(key=key, value=value)

    async def send_row(where: tuple[int, list[tuple[str, bytes]]], value: bytes):
        partition, headers = where
        return await rows_topic.send(value=value, partition=partition, headers=headers)

    async def keep_refused(records: list[tuple[bytes | None, bytes]]) -> None:
        await stream_sends.send_all(send_letter, records, status=status, on_refused=_lost_letter)

    async def refuse_rows(record: tuple[bytes | None, bytes], reason: str) -> None:
        letter = dead_letter("stream", None, [f"rows record not written: {reason}"], record[1])
        await keep_refused([(None, encode_letter(letter))])

    def load(message: faust.EventT, key: bytes) -> Projected:
        on_partition_of(message)
        return decode_state(table.get(key))

    def read(message: faust.EventT, key: bytes) -> bytes | None:
        on_partition_of(message)
        return table.get(key)

    async def project_batch(batch: list[faust.EventT]) -> None:
        folder = BatchFolder(load, score=score, window_for=services.window_for, grace=services.grace,
                             read=read)
        breath = time.monotonic()
        for message in batch:
            folder.add(message, message.value)
            if time.monotonic() - breath > BREATH_SECONDS:  # HTTP requests and heartbeats go on meanwhile
                await asyncio.sleep(0)
                breath = time.monotonic()
        folded = folder.finish()
        # refused events (unparsable, poison, too large a state) -> dead letters, then the rest goes on
        await keep_refused([((r.bot_id or "").encode() or None,
                             encode_letter(dead_letter("events-topic", r.bot_id, r.reasons, r.value)))
                            for r in folded.refused])
        # Rows reach Kafka before the table changes: a crash in between replays into identical rows. A user's
        # rows go to the partition of its events (the rows topic has as many), so one sink holds all of them.
        # Not coalesced here: the folder writes each session and user once per batch, and the sink writes a record
        # as it came (ReplacingMergeTree keeps each key's newest version; readers pick it).
        rows = row_records((folded.states[key][0].message.partition, rows) for key, rows in folded.rows_of.items())
        replayed = replayed_partitions(batch, getattr(app.consumer, "replay_until", {}))
        await stream_sends.send_all(
            send_row, [((p, r.headers() + ([(topics.REPLAYED_HEADER, b"1")] if p in replayed else [])), r.value)
                       for p, r in rows], status=status, on_refused=refuse_rows)
        # The ids before the states: a state that forgets an id is never on the changelog without it.
        for message, key, value in folded.index:
            on_partition_of(message)  # the table's partition is the user's events' partition
            table[key] = value
        for key, (message, state) in folded.states.items():
            on_partition_of(message)
            table[key] = state

    @app.agent(events_topic, name="user-projection", concurrency=1)
    async def project_users(stream: faust.StreamT) -> None:
        async def project_and_ack(batch: list[faust.EventT]) -> None:
            async with guarded("user-projection", status, services.on_crash):
                await project_batch(batch)
            for message in batch:
                await stream.ack(message)

        await read_ahead.handle_in_order(
            stream.noack_take(settings.stream_batch_size, within=settings.stream_batch_seconds), project_and_ack)

    @app.task
    async def follow_bot_settings() -> None:
        await compacted.follow(settings.bootstrap, topics.BOT_SETTINGS, codecs.decode_bot_settings,
                               lambda item: services.apply_bot_settings(*item))

    @app.task
    async def follow_segments() -> None:
        await compacted.follow(settings.bootstrap, topics.SEGMENTS, codecs.decode_segment, services.segments.apply)

    @app.task
    async def follow_schedules() -> None:
        await compacted.follow(settings.bootstrap, topics.SCHEDULES, codecs.decode_schedule, services.schedules.apply)

    requested: dict[str, datetime] = {}  # schedule key -> the latest run this worker asked for while leader

    @app.timer(interval=5.0, on_leader=True)
    async def request_scheduled_runs() -> None:
        # one worker of the group (the leader) decides; the executor makes a repeated request harmless
        served = [s for s in services.schedules.all() if s.bot_id in services.bots]
        try:
            await request_due_runs(served, services.publisher, requested, datetime.now(UTC))
        except Exception:  # noqa: BLE001 - e.g. the publisher not started yet: logged, tried again next tick
            log.exception("scheduled runs not requested at this tick")

    sink_group = group_lag.sink_group(settings.app_id)
    services.progress = ProgressMonitor(settings.stall_seconds)

    @app.task
    async def watch_progress() -> None:
        await group_lag.watch(settings.bootstrap, group_lag.stream_groups(settings.app_id), services.progress)

    if settings.sink_enabled and services.store is not None and services.projections is not None:
        store = services.store

        async def poisoned_row(row: dict, reason: str) -> None:
            letter = dead_letter("sink", row.get("bot_id"), [f"{row.get('table')} row not stored: {reason}"],
                                 encode_row(row))
            await services.publisher.dead_letter(letter)

        def probe() -> None:
            store.count("__health__")

        projections = services.projections
        sink = KafkaSink(
            settings.bootstrap, sink_group, batch_rows=settings.sink_batch_size,
            batch_seconds=settings.sink_batch_seconds, batch_bytes=settings.sink_batch_mib * 2**20,
            session_timeout_seconds=settings.session_timeout_seconds,
            rows=RetryingWriter(projections.write, status=services.sinks.setdefault("rows", SinkStatus()),
                                probe=probe, on_poison=poisoned_row, split=unpacked),
            on_assigned=lambda: asyncio.to_thread(projections.reload))

        @app.task
        async def clickhouse_sink() -> None:
            async with guarded("clickhouse-sink", services.agents.setdefault("clickhouse-sink", SinkStatus()),
                               services.on_crash):
                await sink.run()

    if settings.sink_enabled and services.clickhouse is not None:
        executor = ScheduleExecutor(services.clickhouse, settings.schedule_dir, services.bots,
                                    registry=services.schedules, dynamic_segments=services.segments.dynamic_filters,
                                    csv_guard=settings.csv_formula_guard)

        @app.task
        async def scheduled_exports() -> None:
            await executor.run(settings.bootstrap, f"{settings.app_id}-schedules",
                               session_timeout_seconds=settings.session_timeout_seconds)
