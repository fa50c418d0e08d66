"""Publishing to Kafka: a request is acknowledged only after Kafka acknowledged (acks=all)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from pipeline.core.signatures import REDACTED, SECRET_HEADERS, redact_body
from pipeline.kafka import topics
from pipeline.core.segments import SegmentChange
from pipeline.kafka.codecs import (encode_bot_settings, encode_events, encode_letter, encode_run, encode_schedule,
                                   encode_segment_change)
from schemas.events import Event, utc_now
from schemas.limits import MAX_RECORD_BYTES, PRODUCER_MAX_REQUEST_BYTES

PRODUCER_BATCH_BYTES = 512 * 1024  # a large request goes out in few produce requests (aiokafka's default: 16 KiB)
PARTITIONER = DefaultPartitioner()  # murmur2 of the key, as every producer of the events topic places a user's events
# A partition's records of one call go out as a batch of their own from this many: each record sent alone costs
# aiokafka a future, a metadata wait and an accumulator step (a bulk request of 1,000 events: 18-27 µs of CPU an
# event, 5-10 µs in batches), but a batch waits until the partition's previous one has left, so many concurrent
# calls of a record or two (webhooks) go record by record, sharing batches (16 at once: 72-88 against 426-542 µs).
BATCH_FROM = 32


class PublishUnavailable(RuntimeError):
    """Kafka did not take the records in time: the caller answers 503 so the sender retries."""


class Publisher(Protocol):
    async def publish(self, events: list[Event]) -> None: ...

    async def dead_letter(self, letter: dict) -> None: ...

    async def bot_settings(self, bot_id: str, values: dict) -> None: ...

    async def segment(self, change: SegmentChange) -> None: ...

    async def schedule(self, bot_id: str, schedule_id: str, definition: dict | None) -> None:
        """Publish a schedule's definition; None deletes it (a tombstone)."""

    async def schedule_run(self, schedule_id: str, request: dict) -> None: ...

    async def ping(self) -> None: ...


KEPT_HEADERS_EXCLUDED = {"authorization", "cookie"}
MAX_REASONS = 100  # a letter names at most this many problems, then how many more there were


def dead_letter(source: str, bot_id: str | None, reason: list[str], body: bytes,
                headers: Mapping[str, str] | None = None, received_at: datetime | None = None) -> dict:
    """The record kept on the dead-letter topic: enough to understand the failure and replay the request.

    Secrets never reach a letter: Telegram's secret-token header and LiveChat's `secret_key` body field
    are replaced by "[redacted]" (a replay reads the body again without checking them).
    `source` is "events-api", "events-topic", "webhook:<channel>", "stream" or "sink". The body is kept
    once: as text when it is UTF-8 (`body`), else as base64 (`body_base64`). A letter never exceeds
    MAX_RECORD_BYTES: a body that would not fit is cut, and `body_truncated` says so (with `body_bytes`).
    """
    kept = {k.lower(): (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in (headers or {}).items()
            if k.lower() not in KEPT_HEADERS_EXCLUDED}
    body = redact_body(body)
    if len(reason) > MAX_REASONS:
        reason = [*reason[:MAX_REASONS], f"... and {len(reason) - MAX_REASONS} more problems"]
    letter = {"source": source, "bot_id": bot_id, "reason": [r[:2000] for r in reason],
              "received_at": (received_at or utc_now()).isoformat(), "headers": kept, "body_bytes": len(body)}
    try:
        field, text = "body", body.decode("utf-8")
    except UnicodeDecodeError:
        field, text = "body_base64", base64.b64encode(body).decode()
    budget = MAX_RECORD_BYTES - len(encode_letter(letter)) - 64
    if len(json.dumps(text, ensure_ascii=False).encode()) <= budget:
        return {**letter, field: text}
    low, high = 0, len(text)  # the longest prefix whose JSON fits the budget
    while low < high:
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle], ensure_ascii=False).encode()) <= budget:
            low = middle
        else:
            high = middle - 1
    if field == "body_base64":
        low -= low % 4  # whole base64 quanta only
    return {**letter, field: text[:low], "body_truncated": True}


class KafkaPublisher:
    def __init__(self, bootstrap: str, timeout_seconds: float):
        self.bootstrap = bootstrap
        self.timeout = timeout_seconds
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id="chatlens-ingest", acks="all",
            enable_idempotence=True, linger_ms=2, request_timeout_ms=int(self.timeout * 1000),
            max_request_size=PRODUCER_MAX_REQUEST_BYTES, max_batch_size=PRODUCER_BATCH_BYTES, partitioner=PARTITIONER)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def _send_all(self, records: list[tuple[str, bytes | None, bytes | None]]) -> None:
        assert self._producer is not None, "publisher not started"
        producer = self._producer
        try:
            async with asyncio.timeout(self.timeout):
                pending = []
                for (topic, partition), group in (await self._placed(records)).items():
                    if partition is None or len(group) < BATCH_FROM:   # keyless: the producer picks a partition
                        pending += [await producer.send(topic, value=value, key=key, partition=partition)
                                    for key, value in group]
                    else:
                        pending += [await producer.send_batch(batch, topic, partition=partition)
                                    for batch in self._batches(group)]
                await asyncio.gather(*pending)
        except (TimeoutError, KafkaError) as e:
            raise PublishUnavailable(f"Kafka did not acknowledge within {self.timeout:g}s "
                                     f"({type(e).__name__})") from e

    async def _placed(self, records: list[tuple[str, bytes | None, bytes | None]]
                      ) -> dict[tuple[str, int | None], list[tuple[bytes | None, bytes | None]]]:
        """The records by partition of their key (None for keyless ones), each partition's in order; a key is
        hashed once (murmur2 is Python)."""
        assert self._producer is not None, "publisher not started"
        partitions = {topic: sorted(await self._producer.partitions_for(topic))
                      for topic in {topic for topic, _, _ in records}}
        placed: dict[tuple[str, bytes], int] = {}
        groups: dict[tuple[str, int | None], list[tuple[bytes | None, bytes | None]]] = {}
        for topic, key, value in records:
            partition = None
            if key is not None and (partition := placed.get((topic, key))) is None:
                partition = placed[(topic, key)] = PARTITIONER(key, partitions[topic], partitions[topic])
            groups.setdefault((topic, partition), []).append((key, value))
        return groups

    def _batches(self, group: list[tuple[bytes | None, bytes | None]]) -> list[BatchBuilder]:
        """A partition's records in batches, in order (a full batch is followed by another)."""
        assert self._producer is not None, "publisher not started"
        batches = [self._producer.create_batch()]
        for key, value in group:
            if len(key or b"") + len(value or b"") > PRODUCER_MAX_REQUEST_BYTES:   # as aiokafka's send refuses it
                raise MessageSizeTooLargeError(f"a record of {len(value or b''):,} bytes is over the producer's "
                                               f"request size of {PRODUCER_MAX_REQUEST_BYTES:,} bytes")
            if batches[-1].append(key=key, value=value, timestamp=None) is None:
                batches.append(self._producer.create_batch())
                batches[-1].append(key=key, value=value, timestamp=None)   # taken, whatever its size
        return batches

    async def publish(self, events: list[Event]) -> None:
        """All or nothing: an event over the size limit raises EventTooLarge before anything is sent."""
        encoded = encode_events(events)
        await self._send_all([(topics.EVENTS, topics.event_key(e), v) for e, v in zip(events, encoded)])

    async def dead_letter(self, letter: dict) -> None:
        key = (letter.get("bot_id") or "").encode() or None
        await self._send_all([(topics.DEAD_LETTERS, key, encode_letter(letter))])

    async def bot_settings(self, bot_id: str, values: dict) -> None:
        await self._send_all([(topics.BOT_SETTINGS, bot_id.encode(), encode_bot_settings(values))])

    async def segment(self, change: SegmentChange) -> None:
        await self._send_all([(topics.SEGMENTS, topics.definition_key(change.bot_id, change.segment_id),
                               encode_segment_change(change))])

    async def schedule(self, bot_id: str, schedule_id: str, definition: dict | None) -> None:
        await self._send_all([(topics.SCHEDULES, topics.definition_key(bot_id, schedule_id),
                               encode_schedule(definition))])

    async def schedule_run(self, schedule_id: str, request: dict) -> None:
        await self._send_all([(topics.SCHEDULE_RUNS, topics.schedule_run_key(schedule_id),
                               encode_run(request))])

    async def ping(self) -> None:
        assert self._producer is not None, "publisher not started"
        try:
            async with asyncio.timeout(2):
                await self._producer.client.fetch_all_metadata()
        except (TimeoutError, KafkaError) as e:
            raise PublishUnavailable(f"Kafka metadata request failed ({type(e).__name__})") from e


class MemoryPublisher:
    """The in-memory twin: records what would have reached Kafka; `available=False` acts like an outage."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.dead_letters: list[dict] = []
        self.settings: list[tuple[str, dict]] = []
        self.segments: list[tuple[bytes, bytes]] = []   # (key, value) as they would reach the segments topic
        self.schedules: list[tuple[str, str, dict | None]] = []
        self.schedule_runs: list[tuple[str, dict]] = []
        self.available = True

    async def publish(self, events: list[Event]) -> None:
        encode_events(events)
        await self.ping()
        self.events += events

    async def dead_letter(self, letter: dict) -> None:
        await self.ping()
        self.dead_letters.append(letter)

    async def bot_settings(self, bot_id: str, values: dict) -> None:
        await self.ping()
        self.settings.append((bot_id, values))

    async def segment(self, change: SegmentChange) -> None:
        await self.ping()
        self.segments.append((topics.definition_key(change.bot_id, change.segment_id), encode_segment_change(change)))

    async def schedule(self, bot_id: str, schedule_id: str, definition: dict | None) -> None:
        await self.ping()
        self.schedules.append((bot_id, schedule_id, definition))

    async def schedule_run(self, schedule_id: str, request: dict) -> None:
        await self.ping()
        self.schedule_runs.append((schedule_id, request))

    async def ping(self) -> None:
        if not self.available:
            raise PublishUnavailable("Kafka is unavailable (memory twin)")
