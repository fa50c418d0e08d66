"""From one event to the rows the Users section reads: messages, sessions, users (and erasures).

Pure: the Faust agent and `chatlens rebuild` both call it. Every row carries the user's version,
the number of distinct events folded so far, so replays write identical rows (idempotent) and a
newer row always has a higher version than an older one of the same user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from pipeline.core.aggregate import UserState, message_score, nothing_known, snapshot, step
from pipeline.core.sessionizer import Session, SessionChange, from_ms
from schemas.events import PROFILE_FIELDS, Event, Message, UserDeleted, to_json

Row = dict[str, Any]
REPLAYED = "replayed"  # set on a raw-event row a replay may bring again: only such rows are looked up before insert
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


def project(current: Projected, event: Event, *, score: Score, window: timedelta, grace: timedelta,
            known: Callable[[str], bool] = nothing_known, users_row: bool = True) -> tuple[Projected, list[Row]]:
    """Fold one event; an event already folded (same event_id) changes nothing and yields no rows.

    `known(event_id)`: the caller's index of this user's folded ids, asked for late events only.
    `users_row=False`: leave out the users row, for a caller that writes one per batch (the newest wins).
    """
    projected, sentiment, change = fold_event(current, event, score=score, window=window, grace=grace, known=known)
    if projected is current:
        return current, []
    rows = derived_rows(event, sentiment, change, projected.version)
    if change.upserted is not None:
        rows.append(session_row(event.bot_id, event.user_id, change.upserted, projected.version))
    if users_row:
        rows.append(user_row(snapshot(projected.state), projected.version))
    return projected, rows


def fold_event(current: Projected, event: Event, *, score: Score, window: timedelta, grace: timedelta,
               known: Callable[[str], bool] = nothing_known) -> tuple[Projected, float | None, SessionChange]:
    """The fold of `project` without its rows: `current` itself when the event was folded before."""
    sentiment = message_score(event, score)
    state, change = step(current.state, event, sentiment=sentiment, window=window, grace=grace, known=known)
    if state is current.state:
        return current, sentiment, change
    return Projected(current.version + 1, state), sentiment, change


def derived_rows(event: Event, sentiment: float | None, change: SessionChange, version: int) -> list[Row]:
    """The rows a newly folded event leads to but its raw event's and the upserted session's (the stream's
    batch writes each session's newest row once; `project` adds it per event)."""
    rows: list[Row] = []
    if isinstance(event, Message):
        rows.append(message_row(event, sentiment, version))
    rows += [removed_session_row(event.bot_id, event.user_id, sid, version) for sid in change.removed]
    if isinstance(event, UserDeleted):
        rows.append({"table": "erasures", "bot_id": event.bot_id, "user_id": event.user_id,
                     "until": event.occurred_at, "version": version})
    return rows


def event_row(event: Event, version: int, payload: str | None = None) -> Row:
    """The raw event for the `events` table, written by the sink beside the rows it led to: the stream
    has decided it is new (dedupe) so the sink reads nothing before it writes. `payload`: the event's
    JSON as it came off the log, when the caller has it (else it is encoded again)."""
    return {"table": "events", "bot_id": event.bot_id, "user_id": event.user_id, "event_id": event.event_id,
            "kind": event.kind, "channel": event.channel, "occurred_at": event.occurred_at,
            "received_at": event.received_at, "payload": payload or to_json(event).decode(), "version": version,
            "is_deleted": 0}


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
    for name in PROFILE_FIELDS:
        row[name] = row.get(name) or ""
    return row


_OWN_KEY = {"messages": "event_id", "events": "event_id", "sessions": "session_id"}  # beside bot and user


def row_key(row: Row) -> tuple:
    """A row's identity: the sink keeps the newest version per key within a batch."""
    table = row["table"]
    own = _OWN_KEY.get(table)
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
        projected, new = project(projected, event, score=score, window=window, grace=grace, users_row=False)
        rows += new
    if projected.version:
        rows.append(user_row(snapshot(projected.state), projected.version))   # the newest, once
    erased = max(erasures(rows).values(), default=None)   # one user: one entry at most
    return [r for r in coalesce(rows) if r["table"] == "users"
            or (r["table"] != "erasures" and not r["is_deleted"] and survives_erasure(r, erased))]


# The erasure rule, the one place it is written: nothing from before a user's deletion is stored again,
# however often a replay or a late copy brings it back. The stores, the sink and rebuild all apply it.
Erasures = dict[tuple[str, str], datetime]   # (bot_id, user_id) -> the user's latest deletion time


def survives_erasure(row: Row, erased_until: datetime | None) -> bool:
    """A message, session or raw event row from at or before the user's deletion is dropped; users rows
    (which carry is_deleted themselves), tombstones and the deletion event itself always pass. A row's time
    may be a datetime or its ISO 8601 text (as the rows topic carries it)."""
    table = row["table"]
    if erased_until is None or table not in ("messages", "sessions", "events") or row.get("is_deleted"):
        return True
    if table == "events" and row["kind"] == "user_deleted":
        return True
    at = row.get("occurred_at") or row["started_at"]
    return (datetime.fromisoformat(at) if isinstance(at, str) else at) > erased_until


def event_survives_erasure(event: Event, erased_until: datetime | None) -> bool:
    """A raw event from at or before the user's deletion is dropped; the deletion itself is kept."""
    return erased_until is None or isinstance(event, UserDeleted) or event.occurred_at > erased_until


def erasures(rows: Iterable[Row], known: Erasures | None = None) -> Erasures:
    """`known` deletion times brought up to date with the erasure rows of a batch (the latest wins), in place:
    a sink keeps every deletion, and a copy per batch would cost more the more users were ever deleted."""
    return _latest(known, ((r["bot_id"], r["user_id"], r["until"]) for r in rows if r["table"] == "erasures"))


def event_erasures(events: Iterable[Event], known: Erasures | None = None) -> Erasures:
    """The same from raw events: `known` brought up to date (in place) with the batch's user_deleted events."""
    return _latest(known, ((e.bot_id, e.user_id, e.occurred_at) for e in events if isinstance(e, UserDeleted)))


def _latest(known: Erasures | None, deleted: Iterable[tuple[str, str, datetime]]) -> Erasures:
    latest = {} if known is None else known
    for bot_id, user_id, at in deleted:
        latest[(bot_id, user_id)] = max(latest.get((bot_id, user_id), at), at)
    return latest
