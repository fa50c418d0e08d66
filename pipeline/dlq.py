"""The dead-letter topic: read it, and replay letters whose payloads parse now (after a fix).

A letter's id is "<partition>:<offset>". Replayed events carry their platform ids, so replaying
twice, or replaying something that also arrived by a platform retry, still counts once downstream.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from pipeline import topics
from pipeline.ingest import events_for_bot
from pipeline.kafka_admin import partition_count
from pipeline.webhooks import decode_body
from schemas.channels import PARSERS, PayloadError
from schemas.events import Event, InvalidEvent


@dataclass(frozen=True)
class Letter:
    id: str
    record: dict

    @property
    def body(self) -> bytes:
        return base64.b64decode(self.record.get("body_base64", ""))


async def read_letters(bootstrap: str, limit: int = 1000) -> list[Letter]:
    """Every letter currently on the topic, oldest first per partition (no consumer group, nothing committed)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        count = await asyncio.to_thread(partition_count, bootstrap, topics.DEAD_LETTERS)
        partitions = [TopicPartition(topics.DEAD_LETTERS, p) for p in range(count)]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[Letter] = []
        async with asyncio.timeout(60):
            while len(letters) < limit and [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    letters += [Letter(f"{tp.partition}:{r.offset}", _decode(r.value)) for r in records]
        return letters[:limit]
    finally:
        await consumer.stop()


def _decode(value: bytes) -> dict:
    try:
        record = json.loads(value)
        return record if isinstance(record, dict) else {"reason": ["not a dead letter"], "raw": str(record)}
    except ValueError:
        return {"reason": ["not a dead letter"], "body_base64": base64.b64encode(value).decode()}


def reparse(letter: Letter) -> list[Event]:
    """The letter's request parsed by today's code; raises PayloadError/InvalidEvent if it still fails."""
    source, bot_id = letter.record.get("source", ""), letter.record.get("bot_id")
    received_at = datetime.fromisoformat(letter.record["received_at"])
    if not bot_id:
        raise InvalidEvent(["letter: names no bot, so it cannot be replayed"])
    if source == "events-api":
        return events_for_bot(letter.body, bot_id, received_at)
    channel = source.removeprefix("webhook:")
    if channel not in PARSERS:
        raise InvalidEvent([f"letter: source {source!r} cannot be replayed"])
    content_type = letter.record.get("headers", {}).get("content-type", "application/json")
    return PARSERS[channel](decode_body(letter.body, content_type), bot_id=bot_id, received_at=received_at)


REPLAY_ERRORS = (PayloadError, InvalidEvent, KeyError, ValueError)
