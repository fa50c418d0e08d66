"""Admin SQL on real ClickHouse SQL (chDB) cannot block the store: a time limit, a row limit the query
cannot lift, and a bound on queries at once (finding 6 of the hostile-input probe)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from consumers.memory import MemoryEventStore
from pipeline.core.bots import load_bots
from pipeline.http.app import create_api
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer admin-key"}
ENDLESS = "SELECT count() FROM numbers(1e12)"


@pytest.fixture
def services(tmp_path, clickhouse):
    settings = Settings(CHATLENS_DATA_DIR=tmp_path, CHATLENS_ADMIN_KEY="admin-key", CHATLENS_SQL_TIMEOUT_SECONDS=1,
                        CHATLENS_SQL_MAX_ROWS=1000, CHATLENS_SQL_CONCURRENCY=1)
    return Services(settings=settings, bots=load_bots(Path("bots.example.toml")), publisher=MemoryPublisher(),
                    store=MemoryEventStore(), clickhouse=clickhouse)


def sql(services, *queries: str) -> list[httpx.Response]:
    """Each query in turn; a query starts once the one before holds its slot (or has finished)."""
    async def scenario():
        transport = httpx.ASGITransport(app=create_api(services))
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
            started = []
            for query in queries:
                started.append(asyncio.create_task(client.post("/v1/sql", json={"sql": query}, headers=ADMIN)))
                while not started[-1].done() and not (services.sql_slots and services.sql_slots.locked()):
                    await asyncio.sleep(0.01)
            return await asyncio.gather(*started)
    return asyncio.run(scenario())


def test_a_query_that_would_run_for_hours_is_stopped_at_the_time_limit(services):
    [answer] = sql(services, ENDLESS)
    assert answer.status_code == 400 and "TIMEOUT_EXCEEDED" in answer.json()["detail"]


def test_a_result_over_the_row_limit_is_refused_and_the_query_cannot_lift_the_limit(services):
    [over] = sql(services, "SELECT number FROM numbers(1001)")
    [lifted] = sql(services, "SELECT number FROM numbers(5000) SETTINGS max_result_rows = 0")
    [fits] = sql(services, "SELECT number FROM numbers(1000)")
    assert over.status_code == 400 and "TOO_MANY_ROWS" in over.json()["detail"]
    assert lifted.status_code == 400 and "READONLY" in lifted.json()["detail"]
    assert fits.status_code == 200 and len(fits.json()["rows"]) == 1000


def test_queries_beyond_the_concurrency_bound_are_answered_429_at_once(services):
    [running, refused] = sql(services, ENDLESS, "SELECT 1")
    assert running.status_code == 400   # the time limit ended it
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    assert sql(services, "SELECT 1")[0].json()["rows"] == [[1]]   # the slot is free again
