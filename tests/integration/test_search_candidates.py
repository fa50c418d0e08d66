"""Pages sorted by last seen, read without FINAL (queries/candidates.py), equal the FINAL query's pages.

The store is made hard on purpose: users with several versions in different parts whose last_seen
goes up and down, superseded versions that match a filter their user no longer does, deleted users,
users never seen, and long ties of last_seen.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from queries import candidates, users
from queries.compiler import compile_search
from schemas.filters import SearchRequest
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, tzinfo=UTC)
BOT = "demo"


def keeping_versions(client):
    """Background merges would fold superseded versions away before a test reads them."""
    client.command("SYSTEM STOP MERGES users")
    return client


def versions_of(i: int, rng: random.Random) -> list[dict]:
    """One to four versions of user i, each inserted on its own (so in its own part)."""
    rows = []
    for version in range(1, rng.randint(1, 4) + 1):
        never_seen = rng.random() < 0.05
        last = None if never_seen else NOW - timedelta(hours=rng.randrange(0, 24 * 20) // 6 * 6)   # many ties
        rows.append(user_row(f"web:{i:04d}", BOT, version=version, name=f"User {i} v{version}",
                             country=rng.choice(["Poland", "Spain", "Chile"]), last_seen=last,
                             attributes={"plan": rng.choice(["free", "pro"])},
                             is_deleted=int(rng.random() < 0.08)))
    return rows


@pytest.fixture(scope="module")
def store(chdb_dsn):
    from consumers.clickhouse import connect

    client = keeping_versions(connect(chdb_dsn, database=f"t_candidates_{uuid.uuid4().hex[:12]}"))
    rng = random.Random(7)
    by_version: dict[int, list[dict]] = {}
    for i in range(300):
        for row in versions_of(i, rng):
            by_version.setdefault(row["version"], []).append(row)
    for version in sorted(by_version):   # version 1 of everyone, then version 2, …: four parts at least
        insert_users(client, by_version[version])
    insert_users(client, [user_row("web:0001", "other", version=9, last_seen=NOW)])   # another bot
    return client


def final_rows(client, request: SearchRequest) -> list[tuple]:
    query = compile_search(request, BOT, now=NOW)
    return client.query(query.sql, parameters=query.parameters).result_rows


def request(filters=(), direction="desc", limit=50, cursor=None, columns=("name", "country", "attributes.plan")):
    return SearchRequest.model_validate({"filter": {"match": "all", "filters": list(filters)}, "limit": limit,
                                         "columns": list(columns), "cursor": cursor,
                                         "sort": {"column": "last_seen", "direction": direction}})


FILTERS = {
    "everyone": [],
    "a country": [{"column": "country", "function": "equals", "value": "Spain"}],
    "an attribute and a date": [{"column": "attributes.plan", "function": "equals", "value": "pro"},
                                {"column": "last_seen", "function": "within_last_days", "value": 10}],
    "matches nobody": [{"column": "country", "function": "equals", "value": "Atlantis"}],
}


@pytest.mark.parametrize("direction", ["desc", "asc"])
@pytest.mark.parametrize("filters", FILTERS.values(), ids=FILTERS.keys())
@pytest.mark.parametrize("limit", [3, 50])
def test_every_page_equals_the_final_querys_page(store, filters, direction, limit):
    cursor, pages = None, 0
    while pages < 25:   # at 3 a page, the first 75 users: enough ties and versions, in a few seconds
        wanted = request(filters, direction, limit, cursor)
        found = users.search(store, BOT, wanted, now=NOW)
        expected = final_rows(store, wanted)[:limit]
        assert [u["user_id"] for u in found["users"]] == [row[0] for row in expected]
        assert [u["name"] for u in found["users"]] == [row[1] for row in expected]
        cursor, pages = found["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages >= (1 if filters == FILTERS["matches nobody"] else 2)


def test_the_first_page_of_everyone_is_answered_from_candidates_not_final(store):
    wanted = request()
    rows = candidates.first_rows(store, wanted, BOT, now=NOW)
    assert rows is not None and rows == final_rows(store, wanted)


def test_a_superseded_version_that_matches_the_filter_does_not_bring_its_user_back(clickhouse):
    keeping_versions(clickhouse)
    insert_users(clickhouse, [user_row("web:a", BOT, version=1, country="Spain", last_seen=NOW)])
    insert_users(clickhouse, [user_row("web:a", BOT, version=2, country="Chile", last_seen=NOW - timedelta(days=1)),
                              user_row("web:b", BOT, version=1, country="Spain", last_seen=NOW - timedelta(days=2))])
    wanted = request(FILTERS["a country"])
    rows = candidates.first_rows(clickhouse, wanted, BOT, now=NOW)
    assert [(user_id, country) for user_id, _, country, *_ in rows] == [("web:b", "Spain")]


def test_a_user_whose_newest_version_sorts_lower_appears_where_that_version_sorts(clickhouse):
    keeping_versions(clickhouse)
    insert_users(clickhouse, [user_row("web:a", BOT, version=1, last_seen=NOW)])
    insert_users(clickhouse, [user_row("web:a", BOT, version=2, last_seen=NOW - timedelta(days=3)),
                              user_row("web:b", BOT, version=1, last_seen=NOW - timedelta(days=1))])
    rows = candidates.first_rows(clickhouse, request(columns=()), BOT, now=NOW)
    assert [row[0] for row in rows] == ["web:b", "web:a"]


def test_a_tie_cut_by_the_read_is_read_again_in_full(clickhouse):
    tied = [f"web:{i}" for i in range(10)]
    insert_users(clickhouse, [user_row(user_id, BOT, last_seen=NOW) for user_id in tied])
    insert_users(clickhouse, [user_row("web:later", BOT, last_seen=NOW - timedelta(days=1))])
    rows = candidates.first_rows(clickhouse, request(limit=1, columns=()), BOT, now=NOW, first_read=5)
    assert [row[0] for row in rows] == ["web:0", "web:1"]   # ties by user_id, though 5 of 10 came first


def test_too_many_superseded_versions_leave_the_page_to_the_final_query(clickhouse):
    keeping_versions(clickhouse)
    for version in range(1, 21):   # web:hot's superseded versions fill both reads (2 rows, then 16)
        hot = user_row("web:hot", BOT, version=version, last_seen=NOW - timedelta(minutes=version))
        insert_users(clickhouse, [hot])
    insert_users(clickhouse, [user_row(f"web:{i}", BOT, last_seen=NOW - timedelta(days=1 + i)) for i in range(5)])
    wanted = request(limit=3, columns=())
    assert candidates.first_rows(clickhouse, wanted, BOT, now=NOW, first_read=2) is None
    assert [u["user_id"] for u in users.search(clickhouse, BOT, wanted, now=NOW)["users"]] == [
        "web:hot", "web:0", "web:1"]


def test_users_never_seen_that_could_fill_the_page_leave_it_to_the_final_query(clickhouse):
    insert_users(clickhouse, [user_row("web:seen", BOT, last_seen=NOW), user_row("web:never", BOT)])
    wanted = request(limit=5, columns=())
    assert candidates.first_rows(clickhouse, wanted, BOT, now=NOW) is None
    assert [u["user_id"] for u in users.search(clickhouse, BOT, wanted, now=NOW)["users"]] == ["web:seen", "web:never"]


def test_another_sort_column_is_not_answered_from_candidates(clickhouse):
    wanted = SearchRequest.model_validate({"sort": {"column": "name", "direction": "asc"}})
    assert candidates.first_rows(clickhouse, wanted, BOT, now=NOW) is None
