"""Dynamic segments on real ClickHouse SQL (chDB): members are exactly what their saved filter matches."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from queries import users
from queries.export import compile_export
from schemas.filters import Group, SearchRequest
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def group(*filters: dict, match: str = "all") -> Group:
    return Group.model_validate({"match": match, "filters": list(filters)})


def cond(column: str, function: str, value=None) -> dict:
    return {"column": column, "function": function, "value": value}


PRO = group(cond("attributes.plan", "equals", "pro"))
ENGAGED = group(cond("sessions", "gte", 3), cond("avg_sentiment", "gt", 0))
# a dynamic segment over another dynamic one and a static one
PRO_OR_ENGAGED_READERS = group(group(cond("segments", "has", "pro"), cond("segments", "has", "engaged"),
                                     match="any"),
                               cond("segments", "has", "newsletter"))
DYNAMIC = {"pro": PRO, "engaged": ENGAGED, "readers": PRO_OR_ENGAGED_READERS}


@pytest.fixture
def known(clickhouse):
    insert_users(clickhouse, [
        user_row("web:a", attributes={"plan": "pro"}, sessions=5, avg_sentiment=0.5, segments=["newsletter"]),
        user_row("web:b", attributes={"plan": "pro"}, sessions=1, avg_sentiment=None),
        user_row("web:c", attributes={"plan": "free"}, sessions=4, avg_sentiment=0.2, segments=["newsletter"]),
        user_row("web:d", attributes={"plan": "free"}, sessions=9, avg_sentiment=-0.3, segments=["newsletter"]),
        user_row("web:e"),
        user_row("web:f", attributes={"plan": "pro"}, is_deleted=1),                          # deleted
        user_row("web:g", attributes={"plan": "pro"}), user_row("web:g", version=2),           # no longer pro
        user_row("web:a", bot_id="other", attributes={"plan": "pro"}),                         # another bot
    ])
    return clickhouse


def members(client, segment_id: str, **kwargs) -> list[str]:
    return users.matching_users(client, "demo", group(cond("segments", "has", segment_id)), now=NOW,
                                segments=DYNAMIC, **kwargs)


def direct(client, filter_: Group) -> list[str]:
    return users.matching_users(client, "demo", filter_, now=NOW)


def test_dynamic_members_are_exactly_the_users_their_filter_matches(known):
    assert members(known, "pro") == direct(known, PRO) == ["web:a", "web:b"]
    assert members(known, "engaged") == direct(known, ENGAGED) == ["web:a", "web:c"]
    assert members(known, "readers") == ["web:a", "web:c"]
    assert members(known, "newsletter") == ["web:a", "web:c", "web:d"]     # static: the memberships


def test_has_not_a_dynamic_segment_is_everyone_else_including_users_without_values(known):
    outside = users.matching_users(known, "demo", group(cond("segments", "has_not", "engaged")), now=NOW,
                                   segments=DYNAMIC)
    assert outside == ["web:b", "web:d", "web:e", "web:g"]        # b has no sentiment at all: still outside


def test_in_list_of_dynamic_and_static_segments_is_their_union(known):
    either = users.matching_users(known, "demo", group(cond("segments", "in_list", ["pro", "newsletter"])),
                                  now=NOW, segments=DYNAMIC)
    assert either == ["web:a", "web:b", "web:c", "web:d"]


def test_member_counts_of_every_kind_in_one_scan(known):
    counts = users.count_matching(known, "demo", [group(cond("segments", "has", i)) for i in
                                                  ("pro", "engaged", "readers", "newsletter", "nobody")],
                                  now=NOW, segments=DYNAMIC)
    assert counts == [2, 2, 2, 3, 0]
    assert users.segment_counts(known, "demo") == [{"segment": "newsletter", "members": 3}]


def test_search_and_export_resolve_dynamic_segments_too(known):
    page = users.search(known, "demo", SearchRequest(filter=group(cond("segments", "has", "readers")),
                                                     columns=["sessions"], sort={"column": "user_id",
                                                                                  "direction": "asc"}),
                        now=NOW, segments=DYNAMIC)
    assert [u["user_id"] for u in page["users"]] == ["web:a", "web:c"] and page["total"] == 2
    query = compile_export("demo", group(cond("segments", "has", "pro")), ["user_id"], now=NOW, segments=DYNAMIC)
    assert [r[0] for r in known.query(query.sql, parameters=query.parameters).result_rows] == ["web:a", "web:b"]
