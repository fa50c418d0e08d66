"""User queries on real ClickHouse SQL (chDB): every function on every column type with known users."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from queries import users
from queries.columns import CATALOGUE, FilterError, lookup
from queries.compiler import encode_cursor
from schemas.events import PROFILE_FIELDS
from schemas.filters import SearchRequest, Sort
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ANN, BOB, CARLA, EMPTY = "web:ann", "telegram:42", "messenger:7", "slack:U9"
OBRIEN = "livechat:x'); DROP TABLE users;--"
EVERYONE = [ANN, BOB, CARLA, EMPTY, OBRIEN]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def profile(nick: str, **overrides: str) -> dict:
    return {**{name: f"{nick}-{name}" for name in PROFILE_FIELDS}, **overrides}


KNOWN_USERS = [
    user_row(ANN, **profile("ann", name="Ann Smith", email="ann@example.com", country="Poland", city="Kraków"),
             channels=["web"], sessions=5, messages_sent=20, clicks=3, time_spent_seconds=600.5, avg_sentiment=0.6,
             first_seen=at("2026-01-10T09:00"), last_seen=at("2026-02-28T10:00"),
             last_message_at=at("2026-02-28T09:59"), tags=["vip", "beta"], segments=["Newsletter"],
             attributes={"plan": "pro", "seats": "12", "renewal": "2026-04-01", "signed_up": "2026-02-27"}),
    user_row(BOB, **profile("bob", name="Bob", email="", country="Germany", city="Berlin"), banned=1,
             channels=["telegram"], sessions=1, messages_sent=2, avg_sentiment=-0.4,
             first_seen=at("2026-02-20T00:00"), last_seen=at("2026-02-20T00:00"),
             last_message_at=at("2026-02-20T00:00"), tags=["beta"],
             attributes={"plan": "free", "seats": "3", "renewal": "2026-03-15", "signed_up": "2025-12-01"}),
    user_row(CARLA, **profile("carla", name="Carla Smithers", email="carla@shop.example", country="Poland",
                              city="Gdańsk"),
             channels=["messenger", "web"], sessions=12, messages_sent=150, clicks=40, time_spent_seconds=7200.0,
             avg_sentiment=0.0, first_seen=at("2025-06-01T00:00"), last_seen=at("2026-01-15T08:00"),
             last_message_at=at("2026-01-15T07:00"), segments=["Newsletter", "Churn risk"],
             attributes={"plan": "Pro", "seats": "not a number", "renewal": "soon", "signed_up": "12"}),
    user_row(EMPTY, channels=["slack"]),
    user_row(OBRIEN, **profile("obrien", name="O'Brien \"Quote\"", email="ob@example.com", country="Ireland",
                               city=""),
             channels=["livechat"], sessions=2, messages_sent=5, clicks=1, time_spent_seconds=120.0,
             avg_sentiment=0.25, first_seen=at("2026-02-01T00:00"), last_seen=at("2026-02-25T00:00"),
             last_message_at=at("2026-02-25T00:00"), tags=["vip"],
             attributes={"seats": "12.0", "renewal": "2026-04-01T10:00:00Z"}),
    # noise that must never show: another bot's look-alike, a deleted user, an outdated version
    user_row(ANN, bot_id="other", **profile("ann", name="Ann Smith", country="Poland"), tags=["vip"]),
    user_row("web:gone", country="Poland", name="Gone", tags=["vip"], version=1),
    user_row("web:gone", country="Poland", name="Gone", tags=["vip"], version=2, is_deleted=1),
]


@pytest.fixture(scope="module")
def known(chdb_dsn):
    """The known users, in a database of their own shared by the read-only tests of this module."""
    from consumers.clickhouse import connect

    client = connect(chdb_dsn, database=f"t_users_{uuid.uuid4().hex[:12]}")
    insert_users(client, KNOWN_USERS)
    insert_users(client, [user_row(BOB, country="Poland", name="Old Bob", version=0)])  # older than Bob's row
    return client


def ids(client, *filters: dict, match: str = "all", bot: str = "demo", **request) -> list[str]:
    body = {"filter": {"match": match, "filters": list(filters)}, "limit": 1000, **request}
    found = users.search(client, bot, SearchRequest.model_validate(body), now=NOW)
    assert found["total"] == len(found["users"])
    return [u["user_id"] for u in found["users"]]


def cond(column: str, function: str, value=None) -> dict:
    return {"column": column, "function": function, "value": value}


def others(*user_ids: str) -> list[str]:
    return [u for u in EVERYONE if u not in user_ids]


CASES = [
    # text
    ("name", "equals", "Bob", [BOB]),
    ("name", "equals", "bob", []),
    ("name", "not_equals", "Bob", others(BOB)),
    ("name", "contains", "smith", [ANN, CARLA]),
    ("name", "contains", "O'Brien", [OBRIEN]),
    ("name", "contains", '"Quote"', [OBRIEN]),
    ("name", "not_contains", "SMITH", [BOB, EMPTY, OBRIEN]),
    ("name", "starts_with", "ann", [ANN]),
    ("name", "ends_with", "SMITHERS", [CARLA]),
    ("name", "is_set", None, others(EMPTY)),
    ("name", "is_not_set", None, [EMPTY]),
    ("email", "is_not_set", None, [BOB, EMPTY]),
    ("email", "ends_with", "@example.com", [ANN, OBRIEN]),
    ("city", "starts_with", "KRA", [ANN]),
    ("city", "contains", "ń", [CARLA]),
    ("country", "in_list", ["Poland", "Ireland"], [ANN, CARLA, OBRIEN]),
    ("user_id", "starts_with", "telegram:", [BOB]),
    ("user_id", "equals", OBRIEN, [OBRIEN]),
    # numbers
    ("sessions", "eq", 5, [ANN]),
    ("sessions", "ne", 5, others(ANN)),
    ("sessions", "gt", 2, [ANN, CARLA]),
    ("sessions", "gte", 2, [ANN, CARLA, OBRIEN]),
    ("sessions", "lt", 2, [BOB, EMPTY]),
    ("sessions", "lte", 2, [BOB, EMPTY, OBRIEN]),
    ("sessions", "between", [1, 5], [ANN, BOB, OBRIEN]),
    ("messages_sent", "gte", 20, [ANN, CARLA]),
    ("clicks", "eq", 0, [BOB, EMPTY]),
    ("time_spent_seconds", "gt", 600, [ANN, CARLA]),
    ("avg_sentiment", "lt", 0, [BOB]),
    ("avg_sentiment", "gte", 0, [ANN, CARLA, OBRIEN]),
    ("avg_sentiment", "ne", 0, [ANN, BOB, EMPTY, OBRIEN]),
    ("avg_sentiment", "between", [-0.5, 0.25], [BOB, CARLA, OBRIEN]),
    ("avg_sentiment", "is_set", None, others(EMPTY)),
    ("avg_sentiment", "is_not_set", None, [EMPTY]),
    # dates (now = 2026-03-01 12:00 UTC)
    ("last_seen", "within_last_days", 7, [ANN, OBRIEN]),
    ("last_seen", "more_than_days_ago", 7, [BOB, CARLA]),
    ("last_seen", "before", "2026-02-20", [CARLA]),
    ("last_seen", "before", "2026-02-21", [BOB, CARLA]),
    ("last_seen", "after", "2026-02-20", [ANN, OBRIEN]),
    ("last_seen", "after", "2026-02-19T23:59:59Z", [ANN, BOB, OBRIEN]),
    ("last_seen", "after", "2026-02-28T11:00:00+02:00", [ANN]),
    ("last_seen", "between", ["2026-02-20", "2026-02-25"], [BOB, OBRIEN]),
    ("last_seen", "between", ["2026-02-20T00:00:00.001Z", "2026-02-25T00:00:00Z"], [OBRIEN]),
    ("last_seen", "is_set", None, others(EMPTY)),
    ("last_seen", "is_not_set", None, [EMPTY]),
    ("first_seen", "before", "2026-01-01", [CARLA]),
    ("last_message_at", "after", "2026-02-28T09:58:59.999Z", [ANN]),
    # boolean
    ("banned", "is_true", None, [BOB]),
    ("banned", "is_false", None, others(BOB)),
    # lists
    ("tags", "has", "vip", [ANN, OBRIEN]),
    ("tags", "has_not", "vip", [BOB, CARLA, EMPTY]),
    ("tags", "in_list", ["beta", "nope"], [ANN, BOB]),
    ("tags", "is_set", None, [ANN, BOB, OBRIEN]),
    ("tags", "is_not_set", None, [CARLA, EMPTY]),
    ("segments", "has", "Newsletter", [ANN, CARLA]),
    ("segments", "has_not", "Churn risk", others(CARLA)),
    ("channel", "has", "web", [ANN, CARLA]),
    ("channel", "has_not", "web", [BOB, EMPTY, OBRIEN]),
    ("channel", "in_list", ["telegram", "slack"], [BOB, EMPTY]),
    # custom attributes as text, number and date
    ("attributes.plan", "equals", "pro", [ANN]),
    ("attributes.plan", "not_equals", "pro", others(ANN)),
    ("attributes.plan", "contains", "PRO", [ANN, CARLA]),
    ("attributes.plan", "starts_with", "fr", [BOB]),
    ("attributes.plan", "ends_with", "O", [ANN, CARLA]),
    ("attributes.plan", "in_list", ["free", "pro"], [ANN, BOB]),
    ("attributes.plan", "is_set", None, [ANN, BOB, CARLA]),
    ("attributes.plan", "is_not_set", None, [EMPTY, OBRIEN]),
    ("attributes.plan", "not_contains", "pro", [BOB, EMPTY, OBRIEN]),
    ("attributes.seats", "equals", "12", [ANN]),
    ("attributes.seats", "eq", 12, [ANN, OBRIEN]),
    ("attributes.seats", "ne", 12, [BOB, CARLA, EMPTY]),
    ("attributes.seats", "gt", 5, [ANN, OBRIEN]),
    ("attributes.seats", "gte", 3, [ANN, BOB, OBRIEN]),
    ("attributes.seats", "lt", 5, [BOB]),
    ("attributes.seats", "lte", 12, [ANN, BOB, OBRIEN]),
    ("attributes.seats", "between", [3, 12], [ANN, BOB, OBRIEN]),
    ("attributes.renewal", "after", "2026-03-31", [ANN, OBRIEN]),
    ("attributes.renewal", "after", "2026-04-01T00:00:00Z", [OBRIEN]),
    ("attributes.renewal", "before", "2026-04-01", [BOB]),
    ("attributes.renewal", "between", ["2026-04-01", "2026-04-01"], [ANN, OBRIEN]),
    ("attributes.signed_up", "within_last_days", 7, [ANN]),
    ("attributes.signed_up", "more_than_days_ago", 30, [BOB]),
]


@pytest.mark.parametrize("column, function, value, expected", CASES,
                         ids=[f"{c}-{f}-{v}" for c, f, v, _ in CASES])
def test_each_function_finds_exactly_the_users_it_describes(known, column, function, value, expected):
    assert sorted(ids(known, cond(column, function, value))) == sorted(expected)


def test_every_column_type_and_function_and_every_column_is_covered_by_a_known_case():
    assert set(CATALOGUE) - {c for c, _, _, _ in CASES} <= set(PROFILE_FIELDS)   # profile: the test below
    covered = {(lookup(c).type, f) for c, f, _, _ in CASES}
    assert covered == {(lookup(name).type, f) for name in ("name", "sessions", "avg_sentiment", "last_seen",
                                                          "banned", "tags", "attributes.x")
                       for f in lookup(name).functions}


@pytest.mark.parametrize("column", PROFILE_FIELDS)
def test_every_profile_attribute_filters_by_its_own_value(known, column):
    value = {"name": "Carla Smithers", "email": "carla@shop.example", "country": "Germany", "city": "Gdańsk"}.get(
        column, f"carla-{column}")
    assert ids(known, cond(column, "equals", value)) == ([BOB] if column == "country" else [CARLA])
    assert EMPTY in ids(known, cond(column, "is_not_set"))


def test_positive_and_negative_functions_split_the_users_exactly(known):
    for column, function, value, _ in CASES:
        negative = {"equals": "not_equals", "contains": "not_contains", "eq": "ne", "has": "has_not",
                    "is_set": "is_not_set", "is_true": "is_false"}.get(function)
        if negative:
            both = ids(known, cond(column, function, value)) + ids(known, cond(column, negative, value))
            assert sorted(both) == sorted(EVERYONE), (column, function)


class TestGroups:
    def test_an_any_group_inside_all(self, known):
        found = ids(known, cond("country", "equals", "Poland"),
                    {"match": "any", "filters": [cond("tags", "has", "vip"), cond("sessions", "gt", 10)]})
        assert sorted(found) == [CARLA, ANN]

    def test_all_groups_inside_any(self, known):
        found = ids(known, {"filters": [cond("country", "equals", "Poland"), cond("banned", "is_true")]},
                    {"filters": [cond("channel", "has", "telegram"), cond("banned", "is_true")]}, match="any")
        assert found == [BOB]

    def test_groups_nested_three_deep(self, known):
        inner = {"match": "any", "filters": [cond("attributes.seats", "gt", 10), cond("name", "equals", "Bob")]}
        middle = {"filters": [cond("last_seen", "within_last_days", 30), inner]}
        assert ids(known, middle, cond("tags", "has", "vip")) == [ANN, OBRIEN]

    def test_an_empty_filter_lists_every_current_user_of_the_bot(self, known):
        assert ids(known) == [ANN, OBRIEN, BOB, CARLA, EMPTY]
        assert ids(known, match="any") == [ANN, OBRIEN, BOB, CARLA, EMPTY]


class TestVersionsAndTenants:
    def test_a_user_matches_on_its_newest_version_only(self, known):
        assert BOB not in ids(known, cond("country", "equals", "Poland"))
        assert ids(known, cond("name", "equals", "Old Bob")) == []

    def test_deleted_users_are_hidden_from_search_count_and_detail(self, known):
        assert "web:gone" not in ids(known, cond("tags", "has", "vip"))
        assert users.get_user(known, "demo", "web:gone") is None

    def test_another_bots_users_never_appear(self, known):
        assert ids(known, bot="other") == [ANN]
        assert sorted(ids(known, cond("tags", "has", "vip"))) == [OBRIEN, ANN]
        assert users.get_user(known, "other", BOB) is None
        assert users.get_user(known, "other", ANN)["profile"]["email"] == "ann-email"

    def test_an_any_group_cannot_reach_another_bot(self, known):
        found = ids(known, cond("name", "equals", "Ann Smith"), cond("country", "equals", "Poland"), match="any")
        assert found == [ANN, CARLA]
        with pytest.raises(FilterError, match="unknown column 'bot_id'"):
            ids(known, cond("bot_id", "equals", "other"), match="any")


class TestSortingAndColumns:
    @pytest.mark.parametrize("column, direction, expected", [
        ("last_seen", "desc", [ANN, OBRIEN, BOB, CARLA, EMPTY]),
        ("last_seen", "asc", [CARLA, BOB, OBRIEN, ANN, EMPTY]),
        ("name", "asc", [ANN, BOB, CARLA, OBRIEN, EMPTY]),
        ("name", "desc", [OBRIEN, CARLA, BOB, ANN, EMPTY]),
        ("sessions", "desc", [CARLA, ANN, OBRIEN, BOB, EMPTY]),
        ("avg_sentiment", "asc", [BOB, CARLA, OBRIEN, ANN, EMPTY]),
        ("banned", "desc", [BOB, OBRIEN, CARLA, EMPTY, ANN]),
        ("attributes.seats", "asc", [ANN, OBRIEN, BOB, CARLA, EMPTY]),
    ])
    def test_sorting_puts_missing_values_last_and_breaks_ties_by_user_id(self, known, column, direction, expected):
        assert ids(known, sort={"column": column, "direction": direction}) == expected

    def test_the_default_columns_are_name_email_last_and_first_seen(self, known):
        first = users.search(known, "demo", SearchRequest(limit=1), now=NOW)["users"][0]
        assert first == {"user_id": ANN, "name": "Ann Smith", "email": "ann@example.com",
                         "last_seen": at("2026-02-28T10:00"), "first_seen": at("2026-01-10T09:00")}

    def test_a_column_selection_returns_those_columns_in_order(self, known):
        request = SearchRequest(columns=["attributes.plan", "tags", "channel", "banned", "avg_sentiment"], limit=1)
        assert users.search(known, "demo", request, now=NOW)["users"] == [
            {"user_id": ANN, "attributes.plan": "pro", "tags": ["vip", "beta"], "channel": ["web"], "banned": 0,
             "avg_sentiment": 0.6}]


def page_through(client, request: SearchRequest, between_pages=lambda page: None) -> list[str]:
    seen, cursor, page = [], None, 0
    while True:
        found = users.search(client, "demo", request.model_copy(update={"cursor": cursor}), now=NOW)
        seen += [u["user_id"] for u in found["users"]]
        cursor, page = found["next_cursor"], page + 1
        if cursor is None:
            return seen
        between_pages(page)


class TestPagination:
    def test_pages_follow_each_other_and_carry_the_total(self, known):
        request = SearchRequest(limit=2)
        first = users.search(known, "demo", request, now=NOW)
        second = users.search(known, "demo", request.model_copy(update={"cursor": first["next_cursor"]}), now=NOW)
        third = users.search(known, "demo", request.model_copy(update={"cursor": second["next_cursor"]}), now=NOW)
        assert [[u["user_id"] for u in p["users"]] for p in (first, second, third)] == \
               [[ANN, OBRIEN], [BOB, CARLA], [EMPTY]]
        assert [p["total"] for p in (first, second, third)] == [5, 5, 5]
        assert third["next_cursor"] is None

    @pytest.mark.parametrize("sort", [Sort(), Sort(column="last_seen", direction="asc"), Sort(column="name"),
                                      Sort(column="sessions", direction="asc"), Sort(column="avg_sentiment"),
                                      Sort(column="attributes.tier", direction="asc"), Sort(column="user_id")])
    def test_inserts_between_pages_neither_duplicate_nor_skip_the_original_users(self, clickhouse, sort):
        rng = random.Random(5)
        base = datetime(2026, 2, 1, tzinfo=UTC)

        def someone(user_id: str) -> dict:
            maybe = rng.random() < 0.2
            return user_row(user_id, name="" if maybe else rng.choice(["Ann", "Bob", "Zed"]),
                            sessions=rng.randint(0, 3), avg_sentiment=None if maybe else rng.choice([-0.5, 0.0, 0.5]),
                            last_seen=None if maybe else base + timedelta(hours=rng.randint(0, 5)),
                            attributes={} if maybe else {"tier": rng.choice(["a", "b", "c"])})

        original = [f"web:{i:03d}" for i in range(60)]
        insert_users(clickhouse, [someone(u) for u in original])
        added = iter(range(1000))
        seen = page_through(clickhouse, SearchRequest(sort=sort, limit=7), lambda page: insert_users(
            clickhouse, [someone(f"web:new-{next(added)}") for _ in range(4)]))
        assert len(seen) == len(set(seen))
        assert set(original) <= set(seen)

    def test_a_cursor_for_another_sort_is_a_clean_error(self, known):
        cursor = users.search(known, "demo", SearchRequest(limit=1), now=NOW)["next_cursor"]
        with pytest.raises(FilterError, match="belongs to sort"):
            users.search(known, "demo", SearchRequest(cursor=cursor, sort=Sort(column="name")), now=NOW)


SQL_INJECTIONS = [
    "'; DROP TABLE users; --", "\\'; DROP TABLE users; --", "1' OR '1'='1", "') OR 1=1 --", "{bot_id:String}",
    "{p0:String}", "`users`", '" OR ""="', "%s", "%(bot_id)s", "*/ SELECT 1 /*", "x\x00y", "a\nb",
    "1; SELECT * FROM system.tables", "\\", "$$ $tag$", "Robert'); DELETE FROM users;--", "1--", "a.b-c",
    "users FINAL", "' UNION SELECT name FROM system.tables --", "\u2019 OR 1=1", "NULL", "0x27",
]


class TestInjection:
    @pytest.fixture
    def tables(self, known):
        return known.query("SHOW TABLES").result_rows, known.query("SELECT count() FROM users").result_rows

    def search(self, client, body: dict, bot: str = "demo") -> list[str]:
        """A clean outcome only: the validation error the API turns into 400, or a result."""
        try:
            request = SearchRequest.model_validate(body)
            return [u["user_id"] for u in users.search(client, bot, request, now=NOW)["users"]]
        except (ValidationError, FilterError):
            return []

    @pytest.mark.parametrize("text", SQL_INJECTIONS)
    def test_injection_strings_in_every_field_are_rejected_or_match_nothing(self, known, tables, text):
        for column in ("name", "email", "country", "user_id", "attributes.plan"):
            for function in ("equals", "starts_with", "ends_with"):
                assert self.search(known, {"filter": {"filters": [cond(column, function, text)]}}) == []
            assert self.search(known, {"filter": {"filters": [cond(column, "in_list", [text])]}}) == []
        for column in ("tags", "segments", "channel"):
            assert self.search(known, {"filter": {"filters": [cond(column, "has", text)]}}) == []
        for body in ({"filter": {"filters": [cond(text, "equals", "x")]}},
                     {"filter": {"filters": [cond("name", text, "x")]}},
                     {"filter": {"filters": [cond(f"attributes.{text}", "is_set")]}},
                     {"filter": {"filters": [cond("last_seen", "before", text)]}},
                     {"filter": {"filters": [cond("sessions", "gt", text)]}},
                     {"filter": {"match": text, "filters": []}},
                     {"columns": [text]}, {"sort": {"column": text}}, {"sort": {"direction": text}},
                     {"cursor": text}, {"limit": text}):
            assert self.search(known, body) == []
        assert set(self.search(known, {"cursor": encode_cursor(Sort(), None, text)})) <= {EMPTY}
        assert self.search(known, {}, bot=text) == []
        assert (known.query("SHOW TABLES").result_rows, known.query("SELECT count() FROM users").result_rows) == tables

    def test_a_cursor_carrying_an_injection_string_pages_like_any_other_value(self, known):
        cursor = encode_cursor(Sort(column="name", direction="asc"), "B'; DROP TABLE users; --", "web:'")
        request = SearchRequest(sort=Sort(column="name", direction="asc"), cursor=cursor)
        assert [u["user_id"] for u in users.search(known, "demo", request, now=NOW)["users"]] == \
               [BOB, CARLA, OBRIEN, EMPTY]

