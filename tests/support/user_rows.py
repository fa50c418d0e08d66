"""Rows of the `users` table with defaults, for tests that insert known users straight into ClickHouse."""

from __future__ import annotations

from typing import Any

from queries.projections import USER_COLUMNS
from schemas.events import PROFILE_FIELDS

_DEFAULTS: dict[str, Any] = {
    "version": 1, "is_deleted": 0, **dict.fromkeys(PROFILE_FIELDS, ""), "banned": 0, "channels": [],
    "sessions": 0, "messages_sent": 0, "clicks": 0, "time_spent_seconds": 0.0, "avg_sentiment": None,
    "first_seen": None, "last_seen": None, "last_message_at": None, "attributes": {}, "tags": [], "segments": [],
    "last_session_start": None, "last_session_end": None, "last_session_messages": 0,
    "last_session_sentiment": None, "last_session_profile": {},
}


def user_row(user_id: str, bot_id: str = "demo", **fields: Any) -> dict[str, Any]:
    unknown = set(fields) - set(USER_COLUMNS)
    assert not unknown, f"not columns of users: {unknown}"
    return {**_DEFAULTS, "bot_id": bot_id, "user_id": user_id, **fields}


def insert_users(client, rows: list[dict[str, Any]]) -> None:
    client.insert("users", [[row[c] for c in USER_COLUMNS] for row in rows], column_names=list(USER_COLUMNS))
