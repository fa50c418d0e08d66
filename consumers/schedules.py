"""Executing scheduled segment exports: the run requests' consumer group, the CSV file, the run history.

Every worker that holds the store runs the group `<app id>-schedules` on the runs topic. A request is
run unless its run id already succeeded; each attempt is recorded (running, then succeeded or failed
with its error), a failure is tried again after RETRY_DELAYS, and the offset is committed only after the
run is recorded: at-least-once delivery made once by the run id. Requests of one schedule share a
partition (key = schedule id), so one executor takes them in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Container, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError

from consumers.exports import write_csv
from pipeline.kafka import topics
from pipeline.kafka.codecs import decode_run
from pipeline.core.schedules import MAX_ATTEMPTS, RETRY_DELAYS, RunRequest, ScheduleRegistry, bot_root, inside
from queries import schedules as sql
from queries.export import compile_export, format_datetime
from schemas.filters import Group
from schemas.segments import members_filter

log = logging.getLogger(__name__)

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
INTERRUPTED = "interrupted: the worker stopped during this attempt"
SKIPPED = "skipped"   # handle()'s answer for a run id that already succeeded


def _naive_utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _shown(row: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    """A history row as the API's JSON: times ISO 8601 UTC, an empty error as null."""
    out = dict(zip(names, row))
    for name in ("scheduled_for", "started_at", "finished_at"):
        if out.get(name) is not None:
            out[name] = format_datetime(out[name])
    out["error"] = out.get("error") or None
    return out


class RunHistory:
    """The `schedule_runs` table: one row per attempt, rewritten when the attempt ends."""

    def __init__(self, client: Client):
        self.client = client

    def attempts(self, bot_id: str, schedule_id: str, run_id: str) -> list[tuple[int, str, datetime]]:
        """(attempt, status, started_at) of every attempt of the run so far, oldest first."""
        return [tuple(r) for r in self.client.query(sql.ATTEMPTS, parameters={
            "bot_id": bot_id, "schedule_id": schedule_id, "run_id": run_id}).result_rows]

    def record(self, request: RunRequest, attempt: int, status: str, *, started_at: datetime, rows: int = 0,
               file: str = "", error: str = "", finished_at: datetime | None = None) -> None:
        s = request.schedule
        row = {"bot_id": s.bot_id, "schedule_id": s.schedule_id, "run_id": request.run_id, "attempt": attempt,
               "segment": s.segment, "scheduled_for": _naive_utc(request.scheduled_for), "manual": int(request.manual),
               "status": status, "rows": rows, "file": file, "error": error[:2000],
               "started_at": _naive_utc(started_at), "finished_at": _naive_utc(finished_at),
               "updated_at": _naive_utc(datetime.now(UTC))}
        self.client.insert("schedule_runs", [[row[c] for c in sql.RUN_COLUMNS]], column_names=list(sql.RUN_COLUMNS))

    def history(self, bot_id: str, schedule_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every attempt of the schedule's runs, newest first."""
        rows = self.client.query(sql.HISTORY, parameters={"bot_id": bot_id, "schedule_id": schedule_id,
                                                          "limit": limit}).result_rows
        return [_shown(r, sql.HISTORY_FIELDS) for r in rows]

    def latest(self, bot_id: str) -> dict[str, dict[str, Any]]:
        """The newest attempt of each of the bot's schedules, by schedule id."""
        rows = self.client.query(sql.LATEST_RUNS, parameters={"bot_id": bot_id}).result_rows
        return {r[0]: _shown(r[1:], sql.HISTORY_FIELDS) for r in rows}


def export_members(client: Client, request: RunRequest, root: Path, *,
                   segments: Mapping[str, Group] | None = None, guard: bool = True) -> tuple[int, Path]:
    """Write the segment's members to `<root>/<destination>/<file>`: rows go to `.partial`, fsync, rename.

    `segments`: the bot's dynamic segments (id -> saved filter), so a dynamic segment exports its matches.
    Returns (rows, final path). The final name appears only when complete; a repeat overwrites it.
    """
    s = request.schedule
    query = compile_export(s.bot_id, members_filter(s.segment), s.columns, now=datetime.now(UTC),
                           segments=segments)
    own = bot_root(root, s.bot_id)
    folder = own / s.destination
    # checked again now, not only when the schedule was made: a link placed since must not lead out
    if not inside(own, root) or not inside(folder, own):
        raise PermissionError(f"destination {s.destination!r} leads outside the bot's directory")
    folder.mkdir(parents=True, exist_ok=True)
    if not inside(folder, own):
        raise PermissionError(f"destination {s.destination!r} leads outside the bot's directory")
    target = folder / request.file
    rows = 0

    def counted(n: int) -> None:
        nonlocal rows
        rows += n

    write_csv(client, query, target, on_rows=counted, guard=guard)
    return rows, target


class ScheduleExecutor:
    """Runs requests once per run id, retrying failures; `bots` are the bot ids this worker serves.

    A request carries the schedule as it was when the run was asked for, so a run asked for on another
    worker runs even before this worker has read the new schedule; a deletion this worker has read stops it.
    """

    def __init__(self, client: Client, root: Path, bots: Container[str], *,
                 registry: ScheduleRegistry | None = None, retry_delays: Sequence[float] = RETRY_DELAYS,
                 attempts: int = MAX_ATTEMPTS,
                 dynamic_segments: Callable[[str], Mapping[str, Group]] = lambda _bot_id: {}, csv_guard: bool = True):
        self.client, self.root, self.bots, self.csv_guard = client, root, bots, csv_guard
        self.dynamic_segments = dynamic_segments   # bot id -> its dynamic segments, read when a run starts
        self.registry = registry or ScheduleRegistry()   # only its deletions matter: a deleted schedule stops
        self.history = RunHistory(client)
        self.retry_delays, self.max_attempts = tuple(retry_delays), attempts

    async def handle(self, request: RunRequest) -> str:
        """Run the request unless its run id already succeeded; SUCCEEDED, FAILED (every attempt did) or SKIPPED.

        Raises only when the history cannot be read or written (the caller retries the whole request).
        """
        s = request.schedule
        if s.bot_id not in self.bots:
            log.info("schedule run %s is for bot %r, not served here: skipped", request.run_id, s.bot_id)
            return SKIPPED
        if self.registry.was_deleted(s.bot_id, s.schedule_id):
            log.info("schedule run %s: the schedule was deleted, skipped", request.run_id)
            return SKIPPED
        earlier = await asyncio.to_thread(self.history.attempts, s.bot_id, s.schedule_id, request.run_id)
        if any(status == SUCCEEDED for _, status, _ in earlier):
            return SKIPPED
        for attempt, status, started_at in earlier:   # left running by a worker that stopped
            if status == RUNNING:
                await asyncio.to_thread(self.history.record, request, attempt, FAILED, started_at=started_at,
                                        error=INTERRUPTED, finished_at=datetime.now(UTC))
        first = max((attempt for attempt, _, _ in earlier), default=0) + 1
        for i in range(self.max_attempts):
            if await self._attempt(request, first + i):
                return SUCCEEDED
            if i < self.max_attempts - 1:
                await asyncio.sleep(self.retry_delays[min(i, len(self.retry_delays) - 1)])
        return FAILED

    async def _attempt(self, request: RunRequest, attempt: int) -> bool:
        started = datetime.now(UTC)
        await asyncio.to_thread(self.history.record, request, attempt, RUNNING, started_at=started)
        try:
            rows, path = await asyncio.to_thread(export_members, self.client, request, self.root,
                                                 segments=self.dynamic_segments(request.schedule.bot_id),
                                                 guard=self.csv_guard)
        except Exception as e:  # noqa: BLE001 - recorded with the attempt, then retried
            error = f"{type(e).__name__}: {e}"
            log.warning("schedule run %s attempt %d failed: %s", request.run_id, attempt, error)
            await asyncio.to_thread(self.history.record, request, attempt, FAILED, started_at=started, error=error,
                                    finished_at=datetime.now(UTC))
            return False
        file = str(path.relative_to(self.root))
        await asyncio.to_thread(self.history.record, request, attempt, SUCCEEDED, started_at=started, rows=rows,
                                file=file, finished_at=datetime.now(UTC))
        log.info("schedule run %s: %d rows -> %s", request.run_id, rows, path)
        return True

    async def run(self, bootstrap: str, group_id: str, *, session_timeout_seconds: float = 30.0,
                  store_retry_seconds: float = 5.0) -> None:
        """Consume the runs topic in `group_id` forever; commit each request's offset once it is recorded."""
        session_ms = int(session_timeout_seconds * 1000)
        consumer = AIOKafkaConsumer(
            topics.SCHEDULE_RUNS, bootstrap_servers=bootstrap, group_id=group_id, client_id=f"{group_id}-consumer",
            enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(1000, session_ms // 10), max_poll_interval_ms=3_600_000)
        await consumer.start()
        try:
            while True:
                for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=20)).items():
                    for record in records:
                        try:
                            request = decode_run(record.value)
                        except (ValueError, KeyError, TypeError) as e:
                            log.warning("ignoring bad schedule run request at %s:%d: %s", tp, record.offset, e)
                        else:
                            await self._until_recorded(request, store_retry_seconds)
                        try:
                            await consumer.commit({TopicPartition(tp.topic, tp.partition): record.offset + 1})
                        except CommitFailedError:
                            log.warning("schedule run offset not committed (group rebalanced); a repeat is skipped")
        finally:
            await consumer.stop()

    async def _until_recorded(self, request: RunRequest, retry_seconds: float) -> None:
        while True:
            try:
                await self.handle(request)
                return
            except Exception as e:  # noqa: BLE001 - the history is unreachable: never skip the request
                log.warning("schedule run %s not recorded (%s: %s); retrying in %.0fs", request.run_id,
                            type(e).__name__, str(e)[:300], retry_seconds)
                await asyncio.sleep(retry_seconds)
