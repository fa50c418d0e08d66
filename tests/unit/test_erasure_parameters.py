"""The sink's erasing statements for a batch's deletions: each user once, with its latest deletion, per bot."""

from __future__ import annotations

from datetime import UTC, datetime

from consumers import clickhouse
from consumers.clickhouse import erasure_parameters


def erasure(bot_id: str, user_id: str, minute: int) -> dict:
    return {"table": "erasures", "bot_id": bot_id, "user_id": user_id,
            "until": datetime(2026, 3, 1, 10, minute, tzinfo=UTC), "version": 1}


def test_each_user_is_erased_once_up_to_its_latest_deletion_in_statements_per_bot():
    params = erasure_parameters([erasure("a", "web:2", 5), erasure("b", "web:1", 7), erasure("a", "web:1", 9),
                                 erasure("a", "web:2", 3)])
    assert params == [{"bot_id": "a", "user_ids": ["web:1", "web:2"],
                       "untils": [datetime(2026, 3, 1, 10, 9, tzinfo=UTC), datetime(2026, 3, 1, 10, 5, tzinfo=UTC)]},
                      {"bot_id": "b", "user_ids": ["web:1"], "untils": [datetime(2026, 3, 1, 10, 7, tzinfo=UTC)]}]


def test_a_bot_with_more_deleted_users_than_a_statement_takes_gets_several(monkeypatch):
    monkeypatch.setattr(clickhouse, "ERASE_USERS", 2)
    params = erasure_parameters([erasure("a", f"web:{n}", n) for n in range(5)])
    assert [p["user_ids"] for p in params] == [["web:0", "web:1"], ["web:2", "web:3"], ["web:4"]]
    assert [len(p["untils"]) for p in params] == [2, 2, 1]


def test_no_deletion_runs_no_statement():
    assert erasure_parameters([]) == []
