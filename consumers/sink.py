"""Batch writes that retry until they succeed: offsets are committed only after the store has the rows.

A failed write must never escape the loop: it is retried with capped exponential back-off, and its
state is reported on /health meanwhile. Only an item that fails alone while the store answers
(a poison, not an outage) is given up on: it goes to the dead-letter topic and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError

from pipeline.core.projection import REPLAYED, coalesce
from pipeline.kafka import topics
from pipeline.kafka.codecs import RowsRecord, decode_rows, rows_and_records
from schemas.events import utc_now
from schemas.limits import MAX_RECORD_BYTES

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SinkStatus:
    ok: bool = True
    rows_written: int = 0
    batches_written: int = 0
    failing_since: str | None = None
    attempts: int = 0
    last_error: str | None = None
    crashed: bool = False
    poisoned: int = 0  # items dead-lettered because they failed alone while the store answered


class RetryingWriter(Generic[T]):
    """Writes a batch, retrying with capped back-off; a batch that keeps failing while the store answers
    is halved until the item that fails alone is found, and that item goes to `on_poison`. An item that
    `split` opens into several (a rows record into its rows) is isolated among those instead.

    Without a `probe` (or while the probe fails too: an outage, not a poison) it retries for ever.
    """

    def __init__(self, write: Callable[[Sequence[T]], int], *, status: SinkStatus | None = None,
                 first_delay: float = 0.2, max_delay: float = 10.0, attempts: int = 4,
                 probe: Callable[[], object] | None = None,
                 on_poison: Callable[[T, str], Awaitable[None]] | None = None,
                 split: Callable[[T], Sequence[T]] = lambda item: [item]):
        self._write, self.split = write, split
        self.status = status or SinkStatus()
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.attempts = attempts
        self.probe = probe
        self.on_poison = on_poison

    async def write(self, batch: Sequence[T]) -> int:
        """Returns rows written; only cancellation (shutdown) stops the retries, leaving offsets uncommitted."""
        delay, failures = self.first_delay, 0
        while True:
            try:
                written = await asyncio.to_thread(self._write, batch)
            except Exception as e:  # noqa: BLE001 - any store failure is retried, never dropped
                failures += 1
                self.status.ok = False
                self.status.attempts += 1
                self.status.failing_since = self.status.failing_since or utc_now().isoformat()
                self.status.last_error = f"{type(e).__name__}: {str(e)[:300]}"
                if failures >= self.attempts and await self._store_answers():
                    return await self._isolate(batch, self.status.last_error)
                log.warning("sink write failed (attempt %d), retrying in %.1fs: %s",
                            self.status.attempts, delay, self.status.last_error)
                await asyncio.sleep(delay)
                delay = min(self.max_delay, delay * 2)
                continue
            self.status.ok, self.status.attempts, self.status.failing_since = True, 0, None
            self.status.rows_written += written
            self.status.batches_written += 1
            return written

    async def _store_answers(self) -> bool:
        if self.probe is None or self.on_poison is None:
            return False
        try:
            await asyncio.to_thread(self.probe)
            return True
        except Exception:  # noqa: BLE001 - the store is away: an outage, keep retrying
            return False

    async def _isolate(self, batch: Sequence[T], error: str) -> int:
        if len(batch) == 1 and len(parts := self.split(batch[0])) > 1:
            return await self.write(parts)
        if len(batch) == 1:
            log.error("sink: an item fails alone while the store answers; dead-lettered: %s", error)
            while True:
                try:
                    await self.on_poison(batch[0], error)
                    break
                except Exception as e:  # noqa: BLE001 - Kafka away: the letter waits, nothing is dropped
                    log.warning("sink: dead letter not written yet (%s: %s)", type(e).__name__, e)
                    await asyncio.sleep(self.max_delay)
            self.status.ok, self.status.attempts, self.status.failing_since = True, 0, None
            self.status.poisoned += 1
            return 0
        middle = len(batch) // 2
        return await self.write(batch[:middle]) + await self.write(batch[middle:])


class KafkaSink:
    """Writes the rows topic to ClickHouse, in a consumer group of its own.

    Separate from the Faust group so that exactly the workers that hold the store run it (embedded
    chDB allows one process). Rows of many records are written together (up to `batch_rows`, or records of
    `batch_bytes` in all, since a row holds its raw event of up to 384 KiB; the oldest row waits at most
    `batch_seconds`, counted from its arrival): a few large inserts, no read before them, except for the raw
    events of records that may have been written before (marked `replayed`). Offsets are committed only after the
    store has the rows. `on_assigned` runs before the first batch of newly assigned partitions
    (the store reloads what it keeps of them in memory).
    """

    def __init__(self, bootstrap: str, group_id: str, *, rows: RetryingWriter, batch_rows: int,
                 batch_seconds: float, batch_bytes: int, session_timeout_seconds: float,
                 on_assigned: Callable[[], Awaitable[None]] | None = None, topic: str = topics.ROWS):
        self.bootstrap, self.group_id, self.topic = bootstrap, group_id, topic
        self.rows = rows
        self.batch_rows, self.batch_seconds, self.batch_bytes = batch_rows, batch_seconds, batch_bytes
        self.session_timeout_ms = int(session_timeout_seconds * 1000)
        self.on_assigned = on_assigned

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.group_id,
            client_id=f"{self.group_id}-consumer", enable_auto_commit=False, auto_offset_reset="earliest",
            max_partition_fetch_bytes=MAX_RECORD_BYTES * 2, session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.session_timeout_ms // 10))
        # (partition, offset, its rows or the record itself, their count, the record's bytes), as fetched
        pending: list[tuple[TopicPartition, int, list, int, int]] = []
        held = [0, 0]  # the rows pending and their records' bytes
        lock = asyncio.Lock()  # one write at a time: the loop's, or a revocation's
        replay_until: dict[TopicPartition, int] = {}  # below these offsets a record may have been written before

        async def flush() -> None:
            """Write what is pending and commit exactly its offsets (records fetched meanwhile wait)."""
            async with lock:
                batch = pending[:]
                if not batch:
                    return
                rows, records = rows_and_records(item for _, _, items, _, _ in batch for item in items)
                await self.rows.write([*coalesce(rows), *records])
                del pending[:len(batch)]
                held[:] = [sum(count for *_, count, _ in pending), sum(size for *_, size in pending)]
                offsets: dict[TopicPartition, int] = {}
                for tp, offset, *_ in batch:
                    offsets[tp] = max(offsets.get(tp, 0), offset + 1)
                try:
                    await consumer.commit(offsets)
                except CommitFailedError:
                    log.warning("sink offsets not committed (group rebalanced); the batch will be written again")

        async def assigned(partitions) -> None:
            # A previous owner may have written records past its last commit, never past today's end.
            replay_until.update(await consumer.end_offsets(list(partitions)))
            if self.on_assigned is not None:
                await self.on_assigned()

        # Rows of partitions about to move are written first: their new owner never races an older batch.
        consumer.subscribe([self.topic], listener=_Rebalance(flush, assigned))
        await consumer.start()
        try:
            due: float | None = None  # when the oldest pending row has waited batch_seconds
            while True:
                wait = self.batch_seconds if due is None else max(0.0, due - time.monotonic())
                fetched = await consumer.getmany(timeout_ms=int(wait * 1000), max_records=64)
                for tp, records in fetched.items():
                    for record in records:  # a full batch is written at once: at most one record past its size
                        items, count = _items_of(record, replay_until.get(tp, 0))
                        pending.append((tp, record.offset, items, count, len(record.value)))
                        held[0] += count
                        held[1] += len(record.value)
                        if held[0] >= self.batch_rows or held[1] >= self.batch_bytes:
                            await flush()
                            due = None
                if not pending:  # nothing came, or it was written
                    due = None
                    continue
                due = due or time.monotonic() + self.batch_seconds
                if time.monotonic() >= due:
                    await flush()
                    due = None
        finally:
            await consumer.stop()


def _items_of(record, replay_until: int) -> tuple[list, int]:
    """A record's items and how many rows they hold: the record itself (a RowsRecord, written as it came) when
    nothing in it may be stored already and it holds no erasure (those change what the sink keeps); else its rows,
    its raw events marked `replayed` when the record is in the part a previous owner may have written, or the
    stream made it while replaying its own events."""
    replayed = record.offset < replay_until or any(name == topics.REPLAYED_HEADER for name, _ in record.headers or ())
    whole = RowsRecord.of(record.value, record.headers or ())
    if whole is not None and not replayed and whole.table != "erasures":
        return [whole], whole.count
    rows = decode_rows(record.value)
    if replayed:
        for row in rows:
            if row["table"] == "events":
                row[REPLAYED] = True
    return rows, len(rows)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, flush: Callable[[], Awaitable[None]], assigned: Callable[[set], Awaitable[None]]):
        self.flush, self.assigned = flush, assigned

    async def on_partitions_revoked(self, revoked) -> None:
        if revoked:
            await self.flush()

    async def on_partitions_assigned(self, assigned) -> None:
        if assigned:
            await self.assigned(assigned)
