"""The dead-letter topic: read it, and replay letters whose payloads parse now (after a fix).

A letter's id is "<partition>:<offset>". Replayed events carry their platform ids, so replaying
twice, or replaying something that also arrived by a platform retry, still counts once downstream.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from pipeline.core.ingest import ERRORS, read_request
from pipeline.kafka import topics
from pipeline.kafka.codecs import decode_letter
from pipeline.kafka.topic_reader import read_to_end
from schemas.events import Event, InvalidEvent


@dataclass(frozen=True)
class Letter:
    id: str
    record: dict

    @property
    def body(self) -> bytes:
        """The request body as received: kept as text when it was UTF-8, else as base64."""
        if "body_base64" in self.record:
            return base64.b64decode(self.record["body_base64"])
        return self.record.get("body", "").encode()


async def read_letters(bootstrap: str, limit: int = 1000) -> list[Letter]:
    """Every letter currently on the topic, oldest first per partition."""
    records = await read_to_end(bootstrap, topics.DEAD_LETTERS, limit)
    return [Letter(f"{r.partition}:{r.offset}", decode_letter(r.value)) for r in records]


def reparse(letter: Letter) -> list[Event]:
    """The letter's request parsed by today's code; raises PayloadError/InvalidEvent if it still fails."""
    source, bot_id = letter.record.get("source", ""), letter.record.get("bot_id")
    received_at = datetime.fromisoformat(letter.record["received_at"])
    if not bot_id:
        raise InvalidEvent(["letter: names no bot, so it cannot be replayed"])
    if letter.record.get("body_truncated"):
        raise InvalidEvent([f"letter: its body was cut to fit the topic (it had {letter.record.get('body_bytes')} "
                            "bytes), so it cannot be replayed"])
    content_type = letter.record.get("headers", {}).get("content-type", "application/json")
    return read_request(source, letter.body, content_type, bot_id, received_at).events


REPLAY_ERRORS = (*ERRORS, KeyError, ValueError)
