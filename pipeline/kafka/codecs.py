"""How each topic's values are written and read: one entry per topic (names and keys: topics.py).

| topic                     | key                  | value                                                |
|---------------------------|----------------------|------------------------------------------------------|
| chatlens-events           | `<bot>:<user>`       | one canonical event as JSON (schemas.events)         |
| chatlens-rows             | none (partition: the users' events partition) | a JSON array of one table's rows, times ISO 8601 UTC; headers name the table, the count and the users |
| the users table changelog | `<bot>:<user>`       | the user's Projected (version + state) as JSON       |
| chatlens-events-dlq       | `<bot>` or none      | a dead letter: source, bot, reasons, headers, body   |
| chatlens-bot-settings     | `<bot>`              | BotSettings as JSON                                  |
| chatlens-segments         | `<bot>:<segment>`    | a Segment, or a dated deletion, or a tombstone       |
| chatlens-schedules        | `<bot>:<schedule>`   | a Schedule as JSON, or a tombstone                   |
| chatlens-schedule-runs    | `<schedule>`         | a RunRequest as JSON                                 |

Decoders of compacted topics take the consumer record (`.key`, `.value`), since the key names the item.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from pipeline.core.projection import Projected, Row
from pipeline.core.schedules import RunRequest, Schedule
from pipeline.core.segments import SegmentChange, SegmentError
from pipeline.kafka import topics
from pipeline.kafka.topics import split_definition_key
from schemas.bot_settings import BotSettings
from schemas.events import parse_event, to_checked_json
from schemas.limits import MAX_RECORD_BYTES
from schemas.segments import Segment

# chatlens-events: to_checked_json refuses what the broker would (EventTooLarge), before anything is sent.
encode_events = to_checked_json
decode_event = parse_event


# chatlens-rows ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowsRecord:
    """A rows-topic record: rows of one table, as a JSON array, with their count and their users.

    One table per record lets the sink insert a record's bytes as they came: decoding a batch's rows, coalescing
    and encoding them again was 13.6 % of a worker's GIL samples (py-spy --gil; 1.9 % after). `users` (a JSON list
    of [bot, user]) lets the sink see, without decoding the rows, whether the erasure rule must look at them.
    """

    table: str
    value: bytes
    count: int
    users: bytes

    def rows(self) -> list[Row]:
        return decode_rows(self.value)

    def holds_any(self, users: Container[tuple[str, str]]) -> bool:
        return any((bot_id, user_id) in users for bot_id, user_id in orjson.loads(self.users))

    def headers(self) -> list[tuple[str, bytes]]:
        return [(topics.ROWS_TABLE_HEADER, self.table.encode()), (topics.ROWS_COUNT_HEADER, str(self.count).encode()),
                (topics.ROWS_USERS_HEADER, self.users)]

    @classmethod
    def of(cls, value: bytes, headers: Iterable[tuple[str, bytes]]) -> RowsRecord | None:
        """The record as written by `row_records`; None for one without the headers (written before 2026-12-05,
        rows of every table in one array)."""
        named = dict(headers)
        try:
            return cls(named[topics.ROWS_TABLE_HEADER].decode(), value, int(named[topics.ROWS_COUNT_HEADER]),
                       named[topics.ROWS_USERS_HEADER])
        except KeyError:
            return None


def row_records(rows_of: Iterable[tuple[int, list[Row]]], limit: int = MAX_RECORD_BYTES) -> list[tuple[int, RowsRecord]]:
    """Rows-topic records (partition, record) from (partition, one user's rows) groups; a record's value and users
    header at most `limit` bytes together.

    A partition's rows of one table share as few records as fit, in order, so the sink reads thousands of
    rows per record; a user's rows always go to the partition of its events, so one sink sees all of them.
    A record that holds all of a partition's rows of a table names all the partition's users (one per group, not
    one per row: 1.29 → 1.06 µs a row); one of several names exactly the users of its rows.
    They are encoded in one call when they fit in one record (a call per row cost 0.4 µs a row more); else
    each row's JSON is copied into its record at once: orjson's result holds 4 KiB while it lives, and a
    batch's rows kept until the end faulted in a fresh page each (2 µs a row on this machine).
    """
    grouped: dict[int, tuple[defaultdict[str, list[Row]], dict[tuple[str, str], None]]] = {}
    for partition, rows in rows_of:
        if rows:
            tables, users = grouped.get(partition) or grouped.setdefault(partition, (defaultdict(list), {}))
            users[(rows[0]["bot_id"], rows[0]["user_id"])] = None
            for row in rows:
                tables[row["table"]].append(row)
    records = []
    for partition, (tables, users) in grouped.items():
        named = orjson.dumps(list(users))
        for table, rows in tables.items():
            whole = encode_row(rows)   # the usual case: they fit in one record
            if len(whole) + len(named) <= limit:
                records.append((partition, RowsRecord(table, whole, len(rows), named)))
            else:
                records += [(partition, RowsRecord(table, *chunk)) for chunk in _chunks(rows, limit)]
    return records


def _chunks(rows: list[Row], limit: int) -> Iterator[tuple[bytes, int, bytes]]:
    """(JSON array, count, users) of consecutive rows, each array at most `limit` bytes with its users."""
    chunk, count, users, users_bytes = bytearray(b"["), 0, {}, 2
    for row in rows:
        data, user = encode_row(row), (row["bot_id"], row["user_id"])
        more = 0 if user in users else len(orjson.dumps(user)) + 1
        if count and len(chunk) + len(data) + 1 + users_bytes + more > limit:
            chunk[-1:] = b"]"
            yield bytes(chunk), count, orjson.dumps(list(users))
            chunk, count, users, users_bytes = bytearray(b"["), 0, {}, 2
            more = len(orjson.dumps(user)) + 1
        chunk += data
        chunk += b","
        count += 1
        users[user] = None
        users_bytes += more
    if count:
        chunk[-1:] = b"]"
        yield bytes(chunk), count, orjson.dumps(list(users))


def unpacked(item: Row | RowsRecord) -> list[Row]:
    """What a sink's item holds, row by row (a record's rows decoded)."""
    return item.rows() if isinstance(item, RowsRecord) else [item]


def rows_and_records(items: Iterable[Row | RowsRecord]) -> tuple[list[Row], list[RowsRecord]]:
    """A sink's items apart: the decoded rows, and the records to write as they came."""
    rows: list[Row] = []
    records: list[RowsRecord] = []
    for item in items:
        (records if isinstance(item, RowsRecord) else rows).append(item)
    return rows, records


def encode_row(row: Row | list[Row]) -> bytes:
    return orjson.dumps(row, default=lambda v: v.isoformat())


def decode_rows(data: bytes) -> list[Row]:
    """A record's rows; their times stay ISO 8601 text, as ClickHouse reads them (parsing each one cost the
    sink about 0.9 µs an event; the erasure rule parses the few it compares), but an erasure's `until`."""
    rows = orjson.loads(data)
    for row in rows:
        if (until := row.get("until")) is not None:
            row["until"] = datetime.fromisoformat(until)
    return rows


# the stream's users table (its changelog topic) -----------------------------------------------------------
def encode_state(projected: Projected) -> bytes:
    return orjson.dumps(projected.to_dict())


def decode_state(data: bytes | None) -> Projected:
    return Projected.from_dict(orjson.loads(data) if data else None)


def encode_ids(ids: Iterable[str]) -> bytes:
    """A record of the id index: its event ids, sorted (so equal sets are equal bytes)."""
    return orjson.dumps(sorted(ids))


def decode_ids(data: bytes | None) -> frozenset[str]:
    return frozenset(orjson.loads(data)) if data else frozenset()


# chatlens-events-dlq --------------------------------------------------------------------------------------
def encode_letter(letter: dict) -> bytes:
    return json.dumps(letter, ensure_ascii=False).encode()


def decode_letter(value: bytes) -> dict:
    """A letter as written; anything else on the topic is shown, never dropped."""
    try:
        record = json.loads(value)
        return record if isinstance(record, dict) else {"reason": ["not a dead letter"], "raw": str(record)}
    except ValueError:
        return {"reason": ["not a dead letter"], "body_base64": base64.b64encode(value).decode()}


# chatlens-bot-settings ------------------------------------------------------------------------------------
def encode_bot_settings(values: dict[str, Any]) -> bytes:
    return json.dumps(values).encode()


def decode_bot_settings(record: Any) -> tuple[str, BotSettings] | None:
    """(bot id, settings); a tombstone (no value) is skipped."""
    if record.value is None:
        return None
    return record.key.decode(), BotSettings.model_validate(json.loads(record.value))


# chatlens-segments ----------------------------------------------------------------------------------------
def encode_segment(segment: Segment) -> bytes:
    return segment.model_dump_json().encode()


def encode_segment_deletion(segment_id: str, at: datetime) -> bytes:
    """A dated deletion (not a tombstone), so a registry keeps it against older records of the segment."""
    return json.dumps({"segment_id": segment_id, "deleted": True, "updated_at": at.isoformat()}).encode()


def encode_segment_change(change: SegmentChange) -> bytes:
    """A definition, or a dated deletion (`change.segment` None, `change.at` its time)."""
    if change.segment is None:
        assert change.at is not None, "a deletion record carries its time"
        return encode_segment_deletion(change.segment_id, change.at)
    return encode_segment(change.segment)


def decode_segment(record: Any) -> SegmentChange:
    bot_id, segment_id = split_definition_key(record.key)
    if record.value is None:
        return SegmentChange(bot_id, segment_id, None, None)
    data = json.loads(record.value)
    if data.get("deleted"):
        return SegmentChange(bot_id, segment_id, None, datetime.fromisoformat(data["updated_at"]))
    segment = Segment.model_validate(data)
    if segment.segment_id != segment_id:
        raise SegmentError(f"record key names {segment_id!r} but its value {segment.segment_id!r}")
    return SegmentChange(bot_id, segment_id, segment, segment.updated_at)


# chatlens-schedules ---------------------------------------------------------------------------------------
def encode_schedule(definition: dict[str, Any] | None) -> bytes | None:
    """None is the tombstone that deletes a schedule."""
    return None if definition is None else json.dumps(definition).encode()


def decode_schedule(record: Any) -> tuple[str, Schedule | None]:
    """(key, schedule); a tombstone deletes: (key, None). Raises ValueError on a record that is not one."""
    if record.key is None:
        raise ValueError("a schedule record needs a key")
    key = record.key.decode()
    if record.value is None:
        return key, None
    schedule = Schedule.from_json(json.loads(record.value))
    if schedule.key != key:
        raise ValueError(f"key {key!r} does not match the schedule's {schedule.key!r}")
    return key, schedule


# chatlens-schedule-runs -----------------------------------------------------------------------------------
def encode_run(request: dict[str, Any]) -> bytes:
    return json.dumps(request).encode()


def decode_run(value: bytes) -> RunRequest:
    return RunRequest.from_json(json.loads(value))
