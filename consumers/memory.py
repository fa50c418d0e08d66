"""In-memory twins of the ClickHouse stores, for unit tests: same contract, same erasure rule."""

from __future__ import annotations

from typing import Iterable

from pipeline.core.projection import (Erasures, erasures, event_erasures, event_survives_erasure, row_key,
                                      survives_erasure)
from pipeline.kafka.codecs import RowsRecord, unpacked
from schemas.events import Event


class MemoryEventStore:
    """The twin of ClickHouseEventStore: events by (bot, event id), the first copy kept."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], Event] = {}
        self.erased: Erasures = {}

    def write(self, events: Iterable[Event]) -> int:
        events = list(events)
        self.erased = event_erasures(events, self.erased)
        new = 0
        for event in events:
            if (event.bot_id, event.event_id) not in self.events \
                    and event_survives_erasure(event, self.erased.get((event.bot_id, event.user_id))):
                self.events[(event.bot_id, event.event_id)] = event
                new += 1
        return new

    def count(self, bot_id: str) -> int:
        return sum(1 for (b, _) in self.events if b == bot_id)

    def list(self, bot_id: str, user_id: str = "", limit: int = 1000) -> list[Event]:
        chosen = [e for (b, _), e in self.events.items() if b == bot_id and (not user_id or e.user_id == user_id)]
        return sorted(chosen, key=lambda e: (e.occurred_at, e.event_id))[:limit]


class MemoryProjectionStore:
    """The twin of ClickHouseProjectionStore: latest version per key; an erasure removes what came before it."""

    def __init__(self) -> None:
        self.rows: dict[tuple, dict] = {}
        self.erased: Erasures = {}

    def write(self, items: Iterable[dict | RowsRecord]) -> int:
        rows = [row for item in items for row in unpacked(item)]
        self.erased = erasures(rows, self.erased)
        for row in rows:
            if row["table"] == "erasures" or not survives_erasure(row, self._until(row)):
                continue
            key = row_key(row)
            if key not in self.rows or row["version"] >= self.rows[key]["version"]:
                self.rows[key] = row
        self.rows = {k: r for k, r in self.rows.items() if survives_erasure(r, self._until(r))}
        return len(rows)

    def reload(self) -> None:
        """Nothing to read again: the twin keeps everything in memory."""

    def _until(self, row: dict):
        return self.erased.get((row["bot_id"], row["user_id"]))

    def current(self, table: str, bot_id: str) -> list[dict]:
        return [r for (t, b, *_), r in sorted(self.rows.items()) if t == table and b == bot_id
                and not r.get("is_deleted")]

