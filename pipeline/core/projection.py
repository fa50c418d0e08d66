"""From one event to the rows the Users section reads: messages, sessions, users (and erasures).

Pure: the Faust agent and `chatlens rebuild` both call it. Every row carries the user's version,
the number of distinct events folded so far, so replays write identical rows (idempotent) and a
newer row always has a higher version than an older one of the same user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from pipeline.core.aggregate import UserState, message_score, snapshot, step
from pipeline.core.sessionizer import Session, from_ms
from queries.projections import PROFILE_COLUMNS, TIME_COLUMNS
from schemas.events import Event, Message, UserDeleted
from schemas.limits import MAX_RECORD_BYTES

Row = dict[str, Any]
Score = Callable[[str], float | None]


@dataclass(frozen=True)
class Projected:
    """What the stream keeps per user (in a changelog-backed table)."""

    version: int = 0
    state: UserState = field(default_factory=UserState)

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "state": self.state.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Projected:
        return cls() if not data else cls(data["version"], UserState.from_dict(data["state"]))


def project(current: Projected, event: Event, *, score: Score, window: timedelta,
            grace: timedelta) -> tuple[Projected, list[Row]]:
    """Fold one event; an event already folded (same event_id) changes nothing and yields no rows."""
    sentiment = message_score(event, score)
    state, change = step(current.state, event, sentiment=sentiment, window=window, grace=grace)
    if state is current.state:
        return current, []
    version = current.version + 1
    rows: list[Row] = []
    if isinstance(event, Message):
        rows.append(message_row(event, sentiment, version))
    if change.upserted is not None:
        rows.append(session_row(event.bot_id, event.user_id, change.upserted, version))
    rows += [removed_session_row(event.bot_id, event.user_id, sid, version) for sid in change.removed]
    if isinstance(event, UserDeleted):
        rows.append({"table": "erasures", "bot_id": event.bot_id, "user_id": event.user_id,
                     "until": event.occurred_at, "version": version})
    rows.append(user_row(snapshot(state), version))
    return Projected(version, state), rows


def message_row(event: Message, sentiment: float | None, version: int) -> Row:
    return {"table": "messages", "bot_id": event.bot_id, "user_id": event.user_id, "event_id": event.event_id,
            "channel": event.channel, "direction": event.direction, "text": event.text,
            "attachments": len(event.attachments), "sentiment": sentiment, "occurred_at": event.occurred_at,
            "version": version, "is_deleted": 0}


def session_row(bot_id: str, user_id: str, session: Session, version: int) -> Row:
    return {"table": "sessions", "bot_id": bot_id, "user_id": user_id, "session_id": session.id,
            "started_at": session.start, "ended_at": session.end, "duration_seconds": session.duration_seconds,
            "interactions": session.interactions, "messages": session.messages, "clicks": session.clicks,
            "avg_sentiment": session.avg_sentiment, "version": version, "is_deleted": 0}


def removed_session_row(bot_id: str, user_id: str, session_id: str, version: int) -> Row:
    """A tombstone: ReplacingMergeTree(version, is_deleted) drops the row once this one is newer."""
    epoch = from_ms(0)
    return {"table": "sessions", "bot_id": bot_id, "user_id": user_id, "session_id": session_id,
            "started_at": epoch, "ended_at": epoch, "duration_seconds": 0.0, "interactions": 0, "messages": 0,
            "clicks": 0, "avg_sentiment": None, "version": version, "is_deleted": 1}


def user_row(snap: dict[str, Any], version: int) -> Row:
    row = {"table": "users", **snap, "version": version, "is_deleted": int(snap["is_deleted"]),
           "banned": int(snap["banned"])}
    for name in PROFILE_COLUMNS:
        row[name] = row.get(name) or ""
    return row


def row_key(row: Row) -> tuple:
    """A row's identity: the sink keeps the newest version per key within a batch."""
    table = row["table"]
    own = {"messages": "event_id", "sessions": "session_id"}.get(table)
    return (table, row["bot_id"], row["user_id"], row[own] if own else "")


def coalesce(rows: Iterable[Row]) -> list[Row]:
    newest: dict[tuple, Row] = {}
    for row in rows:
        key = row_key(row)
        if key not in newest or row["version"] >= newest[key]["version"]:
            newest[key] = row
    return list(newest.values())


def rebuild_rows(events: Iterable[Event], *, score: Score, window: timedelta, grace: timedelta) -> list[Row]:
    """The batch path for one user: sort by time, fold, and return the final rows (no tombstones)."""
    projected, rows = Projected(), []
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        projected, new = project(projected, event, score=score, window=window, grace=grace)
        rows += new
    erased = max((r["until"] for r in rows if r["table"] == "erasures"), default=None)

    def kept(row: Row) -> bool:
        if row["table"] == "users":
            return True
        if row["table"] == "erasures" or row["is_deleted"]:
            return False
        return erased is None or (row.get("occurred_at") or row["started_at"]) > erased

    return [r for r in coalesce(rows) if kept(r)]


def row_records(rows: Iterable[Row], limit: int = MAX_RECORD_BYTES) -> list[tuple[bytes, bytes]]:
    """Rows-topic records (key, JSON array), keyed like the user's events; each at most `limit` bytes.

    A user's rows of one batch share records in order; a busy user's batch takes as many as it needs.
    """
    grouped: dict[bytes, list[bytes]] = {}
    for row in rows:
        grouped.setdefault(f"{row['bot_id']}:{row['user_id']}".encode(), []).append(encode_row(row))
    records = []
    for key, encoded in grouped.items():
        chunk, size = [], 2
        for data in encoded:
            if chunk and size + len(data) + 1 > limit:
                records.append((key, b"[" + b",".join(chunk) + b"]"))
                chunk, size = [], 2
            chunk.append(data)
            size += len(data) + 1
        records.append((key, b"[" + b",".join(chunk) + b"]"))
    return records


def encode_row(row: Row) -> bytes:
    """JSON for the rows topic; times as ISO 8601 UTC."""
    return json.dumps(row, default=lambda v: v.isoformat(), ensure_ascii=False).encode()


def encode_state(projected: Projected) -> bytes:
    """What the stream's table keeps per user (its changelog record)."""
    return json.dumps(projected.to_dict(), ensure_ascii=False).encode()


def decode_state(data: bytes | None) -> Projected:
    return Projected.from_dict(json.loads(data) if data else None)


def decode_rows(data: bytes) -> list[Row]:
    rows = json.loads(data)
    for row in rows:
        for name in TIME_COLUMNS | {"until"}:
            if isinstance(row.get(name), str):
                row[name] = datetime.fromisoformat(row[name])
    return rows
