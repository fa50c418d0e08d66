"""ClickHouse adapter: the one client factory, and the raw-event store with its in-memory twin.

The same SQL runs on embedded chDB (`chdb:///path`) and on a server (`http(s)://…`). clickhouse-connect's
chDB backend is synchronous; async callers go through `asyncio.to_thread`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Iterable, Protocol

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from queries import events as sql
from queries import projections
from queries.migrate import migrate
from schemas.events import Event, parse_event, to_json


def connect(dsn: str, database: str | None = None, *, apply_migrations: bool = True) -> Client:
    """A client on `dsn` (optionally in `database`, created if missing), with the schema up to date."""
    kwargs = {} if dsn.startswith("chdb:") else {"autogenerate_session_id": False}
    client = clickhouse_connect.get_client(dsn=dsn, **kwargs)
    if database:
        client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        client = clickhouse_connect.get_client(dsn=dsn, database=database, **kwargs)
    if apply_migrations:
        migrate(client)
    return client


class EventStore(Protocol):
    def write(self, events: Iterable[Event]) -> int:
        """Store events not stored yet (by event id); returns how many were new."""

    def count(self, bot_id: str) -> int: ...

    def list(self, bot_id: str, user_id: str = "", limit: int = 1000) -> list[Event]: ...


_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def deletions(client: Client, bot_id: str, user_ids: list[str]) -> dict[str, datetime]:
    """When each of these users was last deleted (UTC); users never deleted are absent."""
    rows = client.query(sql.DELETIONS, parameters={"bot_id": bot_id, "user_ids": user_ids}).result_rows
    return {user: (at if at.tzinfo else at.replace(tzinfo=UTC)) for user, at in rows}


def _row(event: Event) -> list:
    return [event.bot_id, event.user_id, event.event_id, event.kind, event.channel,
            event.occurred_at, event.received_at, to_json(event).decode()]


class ClickHouseEventStore:
    def __init__(self, client: Client):
        self.client = client

    def write(self, events: Iterable[Event]) -> int:
        unique = {(e.bot_id, e.event_id): e for e in events}
        by_bot: dict[str, list[Event]] = defaultdict(list)
        for event in unique.values():
            by_bot[event.bot_id].append(event)
        rows = []
        for bot_id, batch in by_bot.items():
            users = sorted({e.user_id for e in batch})
            stored = {r[0] for r in self.client.query(sql.STORED_EVENT_IDS, parameters={
                "bot_id": bot_id, "user_ids": users, "event_ids": [e.event_id for e in batch]}).result_rows}
            erased = deletions(self.client, bot_id, users)
            for e in batch:
                if e.kind == "user_deleted":
                    erased[e.user_id] = max(erased.get(e.user_id, e.occurred_at), e.occurred_at)
            rows += [_row(e) for e in batch if e.event_id not in stored
                     and (e.kind == "user_deleted" or e.occurred_at > erased.get(e.user_id, _NEVER))]
        if rows:
            self.client.insert("events", rows, column_names=list(sql.EVENT_COLUMNS))
        return len(rows)

    def count(self, bot_id: str) -> int:
        return self.client.query(sql.COUNT_EVENTS, parameters={"bot_id": bot_id}).result_rows[0][0]

    def list(self, bot_id: str, user_id: str = "", limit: int = 1000) -> list[Event]:
        rows = self.client.query(sql.LIST_EVENTS, parameters={
            "bot_id": bot_id, "user_id": user_id, "limit": limit}).result_rows
        return [parse_event(r[0]) for r in rows]


class MemoryEventStore:
    """The in-memory twin of ClickHouseEventStore, for unit tests."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], Event] = {}

    def write(self, events: Iterable[Event]) -> int:
        new = 0
        for event in events:
            if (event.bot_id, event.event_id) not in self.events:
                self.events[(event.bot_id, event.event_id)] = event
                new += 1
        return new

    def count(self, bot_id: str) -> int:
        return sum(1 for (b, _) in self.events if b == bot_id)

    def list(self, bot_id: str, user_id: str = "", limit: int = 1000) -> list[Event]:
        chosen = [e for (b, _), e in self.events.items() if b == bot_id and (not user_id or e.user_id == user_id)]
        return sorted(chosen, key=lambda e: (e.occurred_at, e.event_id))[:limit]


class ProjectionStore(Protocol):
    def write(self, rows: list[dict]) -> int:
        """Upsert coalesced rows (newest version per key wins); then apply erasures."""


class ClickHouseProjectionStore:
    def __init__(self, client: Client):
        self.client = client

    def write(self, rows: list[dict]) -> int:
        rows = self._after_deletions(rows)
        by_table: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_table[row["table"]].append(row)
        for table, columns in projections.COLUMNS.items():
            if by_table[table]:
                self.client.insert(table, [[row[c] for c in columns] for row in by_table[table]],
                                   column_names=list(columns))
        for erasure in by_table["erasures"]:
            params = {k: erasure[k] for k in ("bot_id", "user_id", "until")}
            self.client.command(projections.ERASE_SESSIONS, parameters=params)
            self.client.command(projections.ERASE_MESSAGES, parameters=params)
            self.client.command(sql.ERASE_EVENTS, parameters=params)
        return len(rows)

    def _after_deletions(self, rows: list[dict]) -> list[dict]:
        """Drop message and session rows from before a user's deletion: a replay must not revive them."""
        erased: dict[tuple[str, str], datetime] = {}
        for bot_id in {r["bot_id"] for r in rows}:
            users = sorted({r["user_id"] for r in rows if r["bot_id"] == bot_id})
            erased.update({(bot_id, u): at for u, at in deletions(self.client, bot_id, users).items()})
        for r in rows:
            if r["table"] == "erasures":
                key = (r["bot_id"], r["user_id"])
                erased[key] = max(erased.get(key, r["until"]), r["until"])

        def kept(row: dict) -> bool:
            until = erased.get((row["bot_id"], row["user_id"]))
            if until is None or row["table"] not in ("messages", "sessions") or row["is_deleted"]:
                return True
            return (row.get("occurred_at") or row["started_at"]) > until

        return [r for r in rows if kept(r)]

    def current(self, table: str, bot_id: str) -> list[dict]:
        sql = {"users": projections.CURRENT_USERS, "sessions": projections.CURRENT_SESSIONS,
               "messages": projections.CURRENT_MESSAGES}[table]
        result = self.client.query(sql, parameters={"bot_id": bot_id})
        return [dict(zip(result.column_names, r)) for r in result.result_rows]


class MemoryProjectionStore:
    """The in-memory twin of ClickHouseProjectionStore: latest version per key, erasures by time."""

    def __init__(self) -> None:
        self.rows: dict[tuple, dict] = {}

    def write(self, rows: list[dict]) -> int:
        from pipeline.core.projection import row_key
        for row in rows:
            if row["table"] == "erasures":
                continue
            key = row_key(row)
            if key not in self.rows or row["version"] >= self.rows[key]["version"]:
                self.rows[key] = row
        for erasure in (r for r in rows if r["table"] == "erasures"):
            for key, row in list(self.rows.items()):
                when = row.get("occurred_at") or row.get("started_at")
                if row["table"] != "users" and (row["bot_id"], row["user_id"]) == (erasure["bot_id"], erasure["user_id"]) \
                        and when <= erasure["until"]:
                    del self.rows[key]
        return len(rows)

    def current(self, table: str, bot_id: str) -> list[dict]:
        return [r for (t, b, *_), r in sorted(self.rows.items()) if t == table and b == bot_id
                and not r.get("is_deleted")]
