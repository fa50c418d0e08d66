"""One contract for the raw-event store, run against the in-memory twin and real ClickHouse SQL (chDB)."""

from __future__ import annotations

import pytest

from consumers.clickhouse import ClickHouseEventStore
from consumers.memory import MemoryEventStore
from queries.migrate import migrate
from schemas.events import parse_event

pytestmark = pytest.mark.integration


def message(event_id: str, user: str = "web:u1", bot: str = "demo", minute: int = 0):
    return parse_event({"kind": "message", "event_id": event_id, "bot_id": bot, "user_id": user,
                        "occurred_at": f"2026-01-01T10:{minute:02d}:00.123Z", "direction": "inbound",
                        "text": "héllo 😀 'quoted' \\ back"})


@pytest.fixture(params=["memory", "clickhouse"])
def store(request):
    if request.param == "memory":
        return MemoryEventStore()
    return ClickHouseEventStore(request.getfixturevalue("clickhouse"))


class TestEventStoreContract:
    def test_write_returns_how_many_events_were_new(self, store):
        assert store.write([message("a"), message("b")]) == 2
        assert store.write([message("b"), message("c")]) == 1
        assert store.count("demo") == 3

    def test_a_redelivered_batch_adds_nothing(self, store):
        batch = [message(f"e{i}") for i in range(50)]
        store.write(batch)
        assert store.write(batch + batch) == 0
        assert store.count("demo") == 50

    def test_events_read_back_equal_what_was_written(self, store):
        written = [message("b", minute=2), message("a", minute=1)]
        store.write(written)
        assert store.list("demo") == [written[1], written[0]]

    def test_reads_are_scoped_to_one_bot_and_optionally_one_user(self, store):
        store.write([message("a"), message("b", user="web:u2"), message("c", bot="other")])
        assert store.count("demo") == 2 and store.count("other") == 1
        assert [e.event_id for e in store.list("demo", "web:u2")] == ["b"]


def test_no_duplicate_rows_exist_physically_after_redelivery(clickhouse):
    store = ClickHouseEventStore(clickhouse)
    store.write([message("a"), message("b")])
    store.write([message("a"), message("b"), message("c")])
    assert clickhouse.query("SELECT count(), uniqExact(event_id) FROM events").result_rows == [(3, 3)]


def test_migrations_are_recorded_and_applied_once(clickhouse):
    assert migrate(clickhouse) == []
    names = [r[0] for r in clickhouse.query("SELECT name FROM schema_migrations ORDER BY name").result_rows]
    assert names[0] == "0001_events.sql" and len(names) == len(set(names))
    tables = {r[0] for r in clickhouse.query("SHOW TABLES").result_rows}
    assert {"events", "messages", "sessions", "users"} <= tables


def test_users_table_is_replacing_by_version_and_ordered_by_bot_and_user(clickhouse):
    engine, key = clickhouse.query(
        "SELECT engine_full, sorting_key FROM system.tables WHERE database = currentDatabase() AND name = 'users'"
    ).result_rows[0]
    assert engine.startswith("ReplacingMergeTree(version, is_deleted)")
    assert key == "bot_id, user_id"
