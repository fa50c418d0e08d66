"""The sink's write path on real ClickHouse SQL (chDB) and on its twin: raw events arrive as rows of the
stream, deletions are kept in memory (no read per batch), and no replay revives what a deletion erased,
not even after the sink starts again; records written as they came store what their decoded rows store."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from consumers import clickhouse as clickhouse_module
from consumers.clickhouse import ClickHouseProjectionStore, connect
from consumers.memory import MemoryProjectionStore
from pipeline.core.projection import Projected, coalesce
from pipeline.core.sentiment import score
from pipeline.kafka.codecs import RowsRecord, decode_state, row_records
from pipeline.stream.fold_batch import fold_batch

pytestmark = pytest.mark.integration
BOT, USER = "demo", "web:ann"


def event(event_id: str, minute: int, kind: str = "message", **fields) -> bytes:
    body = {"kind": kind, "event_id": event_id, "bot_id": BOT, "user_id": USER, "channel": "web",
            "occurred_at": f"2026-03-01T10:{minute:02d}:00Z", **fields}
    if kind == "message":
        body = {"direction": "inbound", "text": f"hello {event_id}", **body}
    return json.dumps(body).encode()


class Stream:
    """The projection agent without Kafka: batches folded against a table that lives between them; a batch gives
    the records the rows topic carries."""

    def __init__(self) -> None:
        self.table: dict[bytes, bytes] = {}

    def batch(self, values: list[bytes]) -> list[RowsRecord]:
        folded = fold_batch([(None, v) for v in values], lambda _, key: decode_state(self.table.get(key)),
                            score=score, window_for=lambda _: timedelta(minutes=10), grace=timedelta(hours=24),
                            read=lambda _, key: self.table.get(key))
        self.table.update({key: value for _, key, value in folded.index})
        self.table.update({key: state for key, (_, state) in folded.states.items()})
        return [record for _, record in row_records((0, rows) for rows in folded.rows_of.values())]


def rows(records: list[RowsRecord]) -> list[dict]:
    return [row for record in records for row in record.rows()]


@pytest.fixture(params=["memory", "clickhouse"])
def store(request):
    if request.param == "memory":
        return MemoryProjectionStore()
    return ClickHouseProjectionStore(request.getfixturevalue("clickhouse"))


@pytest.fixture(params=["decoded", "as they came"])
def written(request):
    """What the sink hands the store: a record's rows decoded (and coalesced), or the records themselves."""
    return (lambda records: coalesce(rows(records))) if request.param == "decoded" else list


def stored(store, table: str) -> list[str]:
    """Ids of what a table holds for the user, as readers see it."""
    if isinstance(store, MemoryProjectionStore):
        return sorted(r.get("event_id") or r["session_id"] for r in store.current(table, BOT))
    column = {"events": "event_id", "messages": "event_id", "sessions": "session_id"}[table]
    query = f"SELECT {column} FROM {table} FINAL WHERE bot_id = {{b:String}} ORDER BY 1"
    if table != "events":
        query = query.replace("ORDER BY", "AND NOT is_deleted ORDER BY")
    return [r[0] for r in store.client.query(query, parameters={"b": BOT}).result_rows]


def test_raw_events_are_stored_from_the_streams_rows_once_each(store, written):
    stream = Stream()
    first = stream.batch([event("a", 0), event("b", 1), event("a", 0)])
    again = stream.batch([event("b", 1), event("c", 2)])
    store.write(written(first))
    store.write(written(again))
    store.write(written(first))   # the sink's batch written again after a crash before its commit
    assert stored(store, "events") == ["a", "b", "c"]
    assert [r["event_id"] for r in rows(first + again) if r["table"] == "events"] == ["a", "b", "c"]


def test_a_replay_after_a_deletion_revives_nothing_even_after_the_sink_starts_again(store, written):
    stream = Stream()
    before = stream.batch([event("m1", 0), event("m2", 5)])
    deletion = stream.batch([event("gone", 20, kind="user_deleted")])
    after = stream.batch([event("m3", 40)])
    store.write(written(before))
    store.write(written(deletion))
    assert stored(store, "messages") == [] and stored(store, "events") == ["gone"]

    if isinstance(store, ClickHouseProjectionStore):   # a new sink process: its memory is read from the store
        store = ClickHouseProjectionStore(store.client)
    store.write(written(before))    # the stream replayed from an older offset: the same rows again
    store.write(written(after))
    assert stored(store, "messages") == ["m3"]
    assert stored(store, "events") == ["gone", "m3"]
    assert stored(store, "sessions") == ["m3"]


def test_the_stores_memory_of_deletions_is_read_again_when_it_is_given_partitions(clickhouse, written):
    stream = Stream()
    before = stream.batch([event("m1", 0)])
    deletion = stream.batch([event("gone", 20, kind="user_deleted")])
    ours, theirs = ClickHouseProjectionStore(clickhouse), ClickHouseProjectionStore(clickhouse)
    ours.write(written(before))          # this sink knows of no deletion yet
    theirs.write(written(deletion))      # another sink (a ClickHouse server shared by two) erases the user
    ours.reload()                        # the partition moved to this sink
    ours.write(written(before))
    assert stored(ours, "messages") == [] and stored(ours, "events") == ["gone"]


def at(user: str, event_id: str, occurred_at: str, kind: str = "message") -> bytes:
    """An event of `user` at an exact time (ms)."""
    body = json.loads(event(event_id, 0, kind))
    return json.dumps({**body, "user_id": user, "occurred_at": occurred_at}).encode()


def test_one_write_erases_many_users_each_up_to_its_own_deletion(store, written):
    """Bob's deletion comes before a message he sent later; Dan's is in the second of his message, 73 ms after it."""
    stream = Stream()
    store.write(written(stream.batch([
        at("web:ann", "a1", "2026-03-01T10:00:00Z"), at("web:bob", "b1", "2026-03-01T10:05:00Z"),
        at("web:bob", "b2", "2026-03-01T10:15:00Z"), at("web:cid", "c1", "2026-03-01T10:01:00Z"),
        at("web:dan", "d1", "2026-03-01T10:20:00.050Z")])))
    store.write(written(stream.batch([
        at("web:ann", "ann-gone", "2026-03-01T10:20:00Z", "user_deleted"),
        at("web:bob", "bob-gone", "2026-03-01T10:10:00Z", "user_deleted"),
        at("web:dan", "dan-gone", "2026-03-01T10:20:00.123Z", "user_deleted")])))
    assert stored(store, "messages") == ["b2", "c1"]
    assert stored(store, "events") == ["ann-gone", "b2", "bob-gone", "c1", "dan-gone"]


class CommandsSeen:
    """The real client, counting the statements it runs (DELETEs among them)."""

    def __init__(self, client):
        self.client, self.deletes = client, 0

    def command(self, statement, *args, **kw):
        self.deletes += statement.lstrip().startswith("DELETE")
        return self.client.command(statement, *args, **kw)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_a_deletion_of_many_users_runs_three_statements_for_each_erase_users_of_them(clickhouse, monkeypatch):
    """A statement per table and user held the sink 0.64 s a user (a bulk deletion of a thousand: ten minutes)."""
    monkeypatch.setattr(clickhouse_module, "ERASE_USERS", 2)
    client, stream = CommandsSeen(clickhouse), Stream()
    users = [f"web:u{n}" for n in range(5)]
    store = ClickHouseProjectionStore(client)
    store.write(stream.batch([at(user, f"m{n}", "2026-03-01T10:00:00Z") for n, user in enumerate(users)]))
    store.write(stream.batch([at(user, f"gone{n}", "2026-03-01T10:05:00Z", "user_deleted")
                              for n, user in enumerate(users)]))
    assert client.deletes == 3 * 3   # users in statements of 2, 2 and 1; sessions, messages and raw events each
    assert stored(store, "messages") == [] and stored(store, "sessions") == []
    assert stored(store, "events") == [f"gone{n}" for n in range(5)]


def test_records_written_as_they_came_read_back_as_their_rows_decoded_and_coalesced(chdb_dsn):
    """Three stream batches in one sink batch: users and sessions written per stream batch, a session merged by
    a late message (its removal and the merged one's upsert), two users."""
    stream = Stream()
    bob = {"user_id": "web:bob"}
    batches = [stream.batch([event("a1", 0), event("a2", 5), event("b1", 1, **bob)]),
               stream.batch([event("a3", 25), event("b2", 3, **bob)]),
               stream.batch([event("a4", 15), event("b3", 40, **bob)])]
    records = [record for batch in batches for record in batch]
    assert any(row["is_deleted"] for row in rows(records) if row["table"] == "sessions")   # the merge happened
    whole, decoded = (ClickHouseProjectionStore(connect(chdb_dsn, database=f"t_{uuid.uuid4().hex[:12]}"))
                      for _ in range(2))
    assert whole.write(records) == len(rows(records))
    decoded.write(coalesce(rows(records)))
    for table in ("users", "sessions", "messages"):   # but when each was stored
        assert ([{**row, "updated_at": None} for row in whole.current(table, BOT)]
                == [{**row, "updated_at": None} for row in decoded.current(table, BOT)] != [])
    assert stored(whole, "events") == stored(decoded, "events") == ["a1", "a2", "a3", "a4", "b1", "b2", "b3"]


def test_a_state_written_as_orjson_reads_back_as_the_json_written_before():
    stream = Stream()
    stream.batch([event("a", 0)])
    [(key, encoded)] = [(k, v) for k, v in stream.table.items() if not k.startswith(b"\x00")]
    old = json.dumps(json.loads(encoded), ensure_ascii=False).encode()   # how states were encoded until now
    assert decode_state(old) == decode_state(encoded) != Projected()
