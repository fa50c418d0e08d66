"""Reads of the Users section: search, one user's detail, sessions, transcript, sentiment history.

Thin: each function runs parameterized SQL (below, or compiled by queries/compiler.py) on a
clickhouse-connect client and shapes rows into dicts. Every read takes the newest version of a row
(FINAL, or for a page sorted by last seen the verified candidates of queries/candidates.py) and skips
deleted rows. Times come back as aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from queries import candidates
from queries.compiler import compile_counts, compile_filter, compile_search, encode_cursor
from schemas.events import PROFILE_FIELDS
from schemas.filters import Group, SearchRequest

METRIC_COLUMNS = ("sessions", "messages_sent", "clicks", "time_spent_seconds", "avg_sentiment", "first_seen",
                  "last_seen", "last_message_at")

USER = f"""
SELECT user_id, version, updated_at, banned, channels, {', '.join(PROFILE_FIELDS)}, {', '.join(METRIC_COLUMNS)},
       attributes, tags, segments, last_session_start, last_session_end, last_session_messages,
       last_session_sentiment, last_session_profile
FROM users FINAL
WHERE bot_id = {{bot_id:String}} AND user_id = {{user_id:String}} AND is_deleted = 0
"""

SESSIONS = """
SELECT session_id, started_at, ended_at, duration_seconds, interactions, messages, clicks, avg_sentiment
FROM sessions FINAL
WHERE bot_id = {bot_id:String} AND user_id = {user_id:String} AND is_deleted = 0
ORDER BY started_at, session_id
"""

MESSAGES = """
SELECT event_id, occurred_at, channel, direction, text, attachments, sentiment
FROM messages FINAL
WHERE bot_id = {bot_id:String} AND user_id = {user_id:String} AND is_deleted = 0
ORDER BY occurred_at, event_id
"""

SENTIMENT_HISTORY = """
SELECT event_id, occurred_at, channel, text, sentiment
FROM messages FINAL
WHERE bot_id = {bot_id:String} AND user_id = {user_id:String} AND is_deleted = 0
  AND direction = 'inbound' AND sentiment IS NOT NULL
ORDER BY occurred_at, event_id
"""


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, float) and value != value:   # a NaN never leaves the store as a number
        return None
    return value


def _rows(client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return [{name: _utc(v) for name, v in zip(result.column_names, row)} for row in result.result_rows]


def search(client, bot_id: str, request: SearchRequest, *, now: datetime | None = None,
           segments: Mapping[str, Group] | None = None) -> dict[str, Any]:
    """One page of matching users (the request's columns), the total that match, and the next page's cursor.

    `segments`: the bot's dynamic segments (id -> saved filter) that `segments has <id>` expands.
    """
    now = now or datetime.now(UTC)
    query = compile_search(request, bot_id, now=now, segments=segments)
    rows = candidates.first_rows(client, request, bot_id, now=now, segments=segments)
    if rows is None:
        rows = client.query(query.sql, parameters=query.parameters).result_rows
    page = rows[:query.limit]
    users = [{name: _utc(v) for name, v in zip(query.columns, row)} for row in page]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = encode_cursor(query.sort, last[-1], last[0])
    total = None
    if request.with_total:
        total = client.query(query.count_sql, parameters=query.count_parameters).result_rows[0][0]
    return {"users": users, "total": total, "next_cursor": next_cursor}


def get_user(client, bot_id: str, user_id: str) -> dict[str, Any] | None:
    """Profile, metrics, custom attributes, tags, segments and last session data; None if unknown or deleted."""
    rows = _rows(client, USER, {"bot_id": bot_id, "user_id": user_id})
    if not rows:
        return None
    row = rows[0]
    last_session = None
    if row["last_session_start"] is not None:
        last_session = {"started_at": row["last_session_start"], "ended_at": row["last_session_end"],
                        "messages": row["last_session_messages"], "sentiment": row["last_session_sentiment"],
                        "profile": dict(row["last_session_profile"])}
    return {"user_id": row["user_id"], "channels": list(row["channels"]), "banned": bool(row["banned"]),
            "profile": {name: row[name] for name in PROFILE_FIELDS},
            "metrics": {name: row[name] for name in METRIC_COLUMNS},
            "attributes": dict(row["attributes"]), "tags": list(row["tags"]), "segments": list(row["segments"]),
            "last_session": last_session, "version": row["version"], "updated_at": row["updated_at"]}


def sessions(client, bot_id: str, user_id: str) -> list[dict[str, Any]]:
    """The user's sessions, oldest first."""
    return _rows(client, SESSIONS, {"bot_id": bot_id, "user_id": user_id})


def sentiment_history(client, bot_id: str, user_id: str) -> list[dict[str, Any]]:
    """The score of every inbound message the user sent, oldest first (what moved their average)."""
    return _rows(client, SENTIMENT_HISTORY, {"bot_id": bot_id, "user_id": user_id})


def transcript(client, bot_id: str, user_id: str, *, window: timedelta) -> list[dict[str, Any]]:
    """Every message of the user, oldest first, grouped by session (`window`: the bot's inactivity window)."""
    parameters = {"bot_id": bot_id, "user_id": user_id}
    return group_by_session(_rows(client, MESSAGES, parameters), _rows(client, SESSIONS, parameters), window)


def group_by_session(messages: list[dict[str, Any]], sessions: list[dict[str, Any]],
                     window: timedelta) -> list[dict[str, Any]]:
    """Pure: a message belongs to the session whose [started_at, ended_at + window] holds it.

    So a bot reply after the user's last interaction stays with that session. Messages outside every
    session (a bot message before the first interaction, a reply long after) form groups of their own
    with `session` None. Groups come in time order, each {"session": dict | None, "messages": [...]}.
    """
    ordered = sorted(sessions, key=lambda s: (s["started_at"], s["session_id"]))
    reach: list[datetime] = []   # reach[i]: the latest ended_at + window among sessions 0..i
    for session in ordered:
        end = session["ended_at"] + window
        reach.append(max(reach[-1], end) if reach else end)
    groups: list[dict[str, Any]] = []
    latest = -1   # the last session started at or before the message (both lists go in time order)
    for message in sorted(messages, key=lambda m: (m["occurred_at"], m["event_id"])):
        at = message["occurred_at"]
        while latest + 1 < len(ordered) and ordered[latest + 1]["started_at"] <= at:
            latest += 1
        owner = None
        if latest >= 0 and at <= reach[latest]:   # some session covers it: normally the latest one
            owner = next(ordered[i] for i in range(latest, -1, -1) if at <= ordered[i]["ended_at"] + window)
        if groups and groups[-1]["session"] is owner:
            groups[-1]["messages"].append(message)
        else:
            groups.append({"session": owner, "messages": [message]})
    return groups


EXISTING_USERS = """
SELECT user_id FROM users FINAL
WHERE bot_id = {bot_id:String} AND is_deleted = 0 AND user_id IN {user_ids:Array(String)}
ORDER BY user_id
"""


def existing_users(client, bot_id: str, user_ids: list[str]) -> list[str]:
    """The given ids that are users of this bot (not deleted): actions touch only those."""
    rows = client.query(EXISTING_USERS, parameters={"bot_id": bot_id, "user_ids": sorted(set(user_ids))})
    return [r[0] for r in rows.result_rows]


def matching_users(client, bot_id: str, group: Group, *, now: datetime | None = None,
                   segments: Mapping[str, Group] | None = None) -> list[str]:
    sql, parameters = compile_filter(group, bot_id, now=now or datetime.now(UTC), segments=segments)
    return [r[0] for r in client.query(sql + " ORDER BY user_id", parameters=parameters).result_rows]


def count_matching(client, bot_id: str, groups: Sequence[Group], *, now: datetime | None = None,
                   segments: Mapping[str, Group] | None = None) -> list[int]:
    """How many current users match each group, in one scan (segment member counts use it)."""
    if not groups:
        return []
    sql, parameters = compile_counts(groups, bot_id, now=now or datetime.now(UTC), segments=segments)
    return [int(n) for n in client.query(sql, parameters=parameters).result_rows[0]]


SEGMENT_COUNTS = """
SELECT segment, count() AS members FROM users FINAL ARRAY JOIN segments AS segment
WHERE bot_id = {bot_id:String} AND is_deleted = 0
GROUP BY segment ORDER BY segment
"""


def segment_counts(client, bot_id: str) -> list[dict[str, Any]]:
    """Static segments in use and how many current users each holds."""
    return _rows(client, SEGMENT_COUNTS, {"bot_id": bot_id})
