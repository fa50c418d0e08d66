"""ClickHouse adapter: the one client factory, the raw-event store and the projection store.

Their in-memory twins are in consumers/memory.py.

The same SQL runs on embedded chDB (`chdb:///path`) and on a server (`http(s)://…`). clickhouse-connect's
chDB backend is synchronous; async callers go through `asyncio.to_thread`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Iterable, Protocol

import clickhouse_connect
import orjson
from clickhouse_connect.driver.client import Client

from queries import events as sql
from queries import projections
from pipeline.core.projection import REPLAYED, Erasures, erasures, event_erasures, event_survives_erasure, survives_erasure
from pipeline.kafka.codecs import RowsRecord, rows_and_records
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


LOOKUP_IDS = 5_000  # event ids per stored-ids lookup


def deletions(client: Client, bot_id: str, user_ids: list[str]) -> Erasures:
    """When each of these users was last deleted (UTC); users never deleted are absent."""
    rows = client.query(sql.DELETIONS, parameters={"bot_id": bot_id, "user_ids": user_ids}).result_rows
    return {(bot_id, user): (at if at.tzinfo else at.replace(tzinfo=UTC)) for user, at in rows}


def stored_event_ids(client: Client, bot_id: str, ids: list[tuple[str, str]]) -> set[str]:
    """Which of these (user_id, event_id) the events table holds, looked up LOOKUP_IDS at a time."""
    stored: set[str] = set()
    for start in range(0, len(ids), LOOKUP_IDS):
        chunk = ids[start:start + LOOKUP_IDS]
        stored |= {r[0] for r in client.query(sql.STORED_EVENT_IDS, parameters={
            "bot_id": bot_id, "user_ids": sorted({user for user, _ in chunk}),
            "event_ids": [event for _, event in chunk]}).result_rows}
    return stored


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
            stored = stored_event_ids(self.client, bot_id, [(e.user_id, e.event_id) for e in batch])
            erased = event_erasures(batch, deletions(self.client, bot_id, users))
            rows += [_row(e) for e in batch if e.event_id not in stored
                     and event_survives_erasure(e, erased.get((bot_id, e.user_id)))]
        if rows:
            self.client.insert("events", rows, column_names=list(sql.EVENT_COLUMNS))
        return len(rows)

    def count(self, bot_id: str) -> int:
        return self.client.query(sql.COUNT_EVENTS, parameters={"bot_id": bot_id}).result_rows[0][0]

    def list(self, bot_id: str, user_id: str = "", limit: int = 1000) -> list[Event]:
        rows = self.client.query(sql.LIST_EVENTS, parameters={
            "bot_id": bot_id, "user_id": user_id, "limit": limit}).result_rows
        return [parse_event(r[0]) for r in rows]


INSERTS = {"events": sql.EVENT_COLUMNS, **projections.COLUMNS}  # the raw events first, then what they led to


# Rows go in as one JSON array per table that ClickHouse parses itself, without the GIL: building columns and
# encoding them in Python held it for 8 % of a worker's time (py-spy --gil; 1.07x events/s once gone). One
# orjson call, not one per row: each result holds 4 KiB while it lives (a fresh page, 2 µs, per row). Keys
# that are not columns ("table", "replayed") are skipped; times are RFC 3339 (orjson's, or as the topic had them).
JSON_ROWS = {"input_format_skip_unknown_fields": 1, "date_time_input_format": "best_effort"}


def insert_rows(client: Client, rows: Iterable[dict], suffix: str = "",
                records: Iterable[RowsRecord] = ()) -> dict[str, list[dict]]:
    """One insert per table (into `<table><suffix>`), raw events first, of the rows and of the records' rows as
    they came; returns the rows by table (erasure rows are not inserted: the caller applies them)."""
    by_table: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_table[row["table"]].append(row)
    arrays: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        arrays[record.table].append(record.value)
    for table, columns in INSERTS.items():
        if chosen := by_table.get(table):
            arrays[table].append(orjson.dumps(chosen))
        if parts := [array[1:-1] for array in arrays.get(table, ()) if len(array) > 2]:  # JSON arrays joined
            client.raw_insert(table + suffix, list(columns), b"[" + b",".join(parts) + b"]", settings=JSON_ROWS,
                              fmt="JSONEachRow")
    return by_table


ERASE_USERS = 1_000  # users per erasing statement: a server gets its parameters in the URI, about 78 KB for
# a thousand 25-character ids against ClickHouse's default limit of 1 MiB (http_max_uri_size)


def erasure_parameters(rows: Iterable[dict]) -> list[dict]:
    """The erasing statements' parameters for a batch's erasure rows: per bot, each user once with its latest
    deletion, ERASE_USERS users a statement (one statement per user held the sink 0.64 s a user)."""
    latest = erasures(rows)
    by_bot: dict[str, dict[str, datetime]] = defaultdict(dict)
    for (bot_id, user_id), until in latest.items():
        by_bot[bot_id][user_id] = until
    return [{"bot_id": bot_id, "user_ids": user_ids[start:start + ERASE_USERS],
             "untils": [untils[user_id] for user_id in user_ids[start:start + ERASE_USERS]]}
            for bot_id, untils in by_bot.items() for user_ids in [sorted(untils)]
            for start in range(0, len(user_ids), ERASE_USERS)]


class ProjectionStore(Protocol):
    def write(self, items: Iterable[dict | RowsRecord]) -> int:
        """Upsert rows, and records' rows as they came (newest version per key wins); then apply erasures."""

    def reload(self) -> None:
        """Read again what the store keeps in memory (the sink was given partitions)."""


class ClickHouseProjectionStore:
    """Rows (raw events included) inserted as JSON, a few inserts per batch and no read before them:
    the latest deletion of each user is kept in memory (loaded once, and again by `reload`, when the
    sink is given partitions), so the write cost does not grow with what is stored. Only raw events a
    replay may bring again (marked `replayed` by the sink) are looked up, and those already stored skipped.
    """

    def __init__(self, client: Client):
        self.client = client
        self.erased: Erasures | None = None

    def reload(self) -> None:
        self.erased = {(bot, user): (at if at.tzinfo else at.replace(tzinfo=UTC))
                       for bot, user, at in self.client.query(sql.ALL_DELETIONS).result_rows}

    def write(self, items: Iterable[dict | RowsRecord]) -> int:
        if self.erased is None:
            self.reload()
        rows, records = self._split_for_erasures(items)
        erased = self.erased
        kept = self._unstored([r for r in rows if (until := erased.get((r["bot_id"], r["user_id"]))) is None
                               or survives_erasure(r, until)])
        by_table = insert_rows(self.client, kept, records=records)
        for params in erasure_parameters(by_table.get("erasures", [])):
            for statement in (projections.ERASE_SESSIONS, projections.ERASE_MESSAGES, sql.ERASE_EVENTS):
                self.client.command(statement, parameters=params)
        return len(kept) + sum(record.count for record in records)

    def _split_for_erasures(self, items: Iterable[dict | RowsRecord]) -> tuple[list[dict], list[RowsRecord]]:
        """The rows the erasure rule must look at (their erasures now known), and the records it need not: those
        that hold no erasure and no row of a deleted user, written as they came."""
        rows, records = rows_and_records(items)
        rows += [row for record in records if record.table == "erasures" for row in record.rows()]
        self.erased = erasures(rows, self.erased)
        untouched = []
        for record in records:
            if record.table == "erasures":
                continue   # decoded above
            if self.erased and record.holds_any(self.erased):
                rows += record.rows()
            else:
                untouched.append(record)
        return rows, untouched

    def _unstored(self, rows: list[dict]) -> list[dict]:
        replayed: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            if row.get(REPLAYED):
                replayed[row["bot_id"]].append(row)
        if not replayed:
            return rows
        stored = {(bot_id, event_id) for bot_id, batch in replayed.items()
                  for event_id in stored_event_ids(self.client, bot_id, [(r["user_id"], r["event_id"]) for r in batch])}
        return [r for r in rows if not (r.get(REPLAYED) and (r["bot_id"], r["event_id"]) in stored)]

    def current(self, table: str, bot_id: str) -> list[dict]:
        sql = {"users": projections.CURRENT_USERS, "sessions": projections.CURRENT_SESSIONS,
               "messages": projections.CURRENT_MESSAGES}[table]
        result = self.client.query(sql, parameters={"bot_id": bot_id})
        return [dict(zip(result.column_names, r)) for r in result.result_rows]
