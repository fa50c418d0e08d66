"""Segment definitions: ids from names, the records of the segments topic, and the registry every worker
keeps of them. Pure: no Kafka, no ClickHouse (records are read by pipeline/kafka/codecs.py, the topic
followed by pipeline/kafka/compacted.py).

The registry keeps, per (bot, segment id), the newest record by `updated_at`, deletions included, so a
worker that applied its own write at once (read your writes) is not set back when the follower reads
an older record of the same segment afterwards.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from schemas.filters import Group
from schemas.segments import SEGMENT_ID_PATTERN, Segment

SEGMENT_ID = re.compile(SEGMENT_ID_PATTERN)
MAX_ID = 64


class SegmentError(ValueError):
    """A segment request that cannot be met, in words the user can act on."""


def slug(name: str) -> str:
    """The segment id a name makes: lower-case ASCII letters, digits, '_' and '-', at most 64 characters.

    Accents are dropped ("Café" -> "cafe"), every other run of characters becomes one '-'.
    """
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9_-]+", "-", ascii_text).strip("-")[:MAX_ID].strip("-")
    if not text:
        raise SegmentError(f"the name {name[:80]!r} needs a letter or digit (a-z, 0-9) to make the segment's id")
    return text


def is_segment_id(text: str) -> bool:
    return SEGMENT_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class SegmentChange:
    """One record of the segments topic: a definition, or a deletion (`segment` None)."""

    bot_id: str
    segment_id: str
    segment: Segment | None
    at: datetime | None          # updated_at of the record; None for a Kafka tombstone (always applies)


class SegmentRegistry:
    """The definitions of every bot's segments, as of the records applied so far."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], SegmentChange] = {}

    def apply(self, change: SegmentChange) -> None:
        key = (change.bot_id, change.segment_id)
        known = self._latest.get(key)
        if known is None or change.at is None or known.at is None or change.at >= known.at:
            self._latest[key] = change

    def changed_at(self, bot_id: str, segment_id: str) -> datetime | None:
        """When the segment's newest record (a deletion included) was written; a new one must be later."""
        change = self._latest.get((bot_id, segment_id))
        return change.at if change else None

    def get(self, bot_id: str, segment_id: str) -> Segment | None:
        change = self._latest.get((bot_id, segment_id))
        return change.segment if change else None

    def list(self, bot_id: str) -> list[Segment]:
        """The bot's segments by id."""
        return sorted((c.segment for (bot, _), c in self._latest.items() if bot == bot_id and c.segment),
                      key=lambda s: s.segment_id)

    def dynamic_filters(self, bot_id: str) -> dict[str, Group]:
        """The bot's dynamic segments as id -> saved filter: what the filter compiler resolves them with."""
        return {s.segment_id: s.filter for s in self.list(bot_id) if s.kind == "dynamic" and s.filter is not None}
