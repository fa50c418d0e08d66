"""`chatlens rebuild`: recompute every projection from the raw events table with the same fold the
stream uses, into fresh tables; report the differences; optionally swap them in.

Runs where the store is (the worker, for embedded chDB). While it runs, rows the stream writes go
to the live tables; run it when ingestion is quiet, or run it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from consumers.clickhouse import insert_rows
from pipeline.core.projection import rebuild_rows
from pipeline.core.sentiment import score
from queries import rebuild as sql
from schemas.events import Event, parse_event

FLUSH_ROWS = 20_000
PAGE_USERS = 2_000


@dataclass
class RebuildReport:
    users: int = 0
    rows: int = 0
    differences: dict[str, int] = field(default_factory=dict)
    applied: bool = False


def _users(client, bot_id: str) -> Iterator[tuple[str, list[Event]]]:
    """Each user's events in time order, read a page of users at a time (memory stays flat)."""
    after = ("", "")
    while True:
        scope = {"bot_id": bot_id, "after_bot": after[0], "after_user": after[1]}
        page = client.query(sql.NEXT_USERS, parameters={**scope, "limit": PAGE_USERS}).result_rows
        if not page:
            return
        last = tuple(page[-1])
        rows = client.query(sql.EVENTS_OF_USERS, parameters={**scope, "last_bot": last[0],
                                                              "last_user": last[1]}).result_rows
        current, events = None, []
        for bot, user, payload in rows:
            if (bot, user) != current and events:
                yield current[0], events
                events = []
            current = (bot, user)
            events.append(parse_event(payload))
        if events:
            yield current[0], events
        after = last


class RebuildRefused(ValueError):
    pass


def rebuild(client, *, window_for: Callable[[str], timedelta], grace: timedelta, apply: bool = False,
            bot_id: str = "", progress: Callable[[int, int], None] = lambda done, total: None) -> RebuildReport:
    """Every bot, or one (`bot_id`): one bot can be compared, but only all of them swapped in."""
    if apply and bot_id:
        raise RebuildRefused("--apply swaps whole tables: rebuild every bot (no bot filter) to apply")
    scope = {"bot_id": bot_id}
    total = client.query(sql.USERS_TO_REBUILD, parameters=scope).result_rows[0][0]
    for table in sql.PROJECTION_TABLES:
        client.command(sql.drop(table))
        client.command(sql.create_like(table))
    report, pending = RebuildReport(), []
    for user_bot, events in _users(client, bot_id):
        pending += rebuild_rows(events, score=score, window=window_for(user_bot), grace=grace)
        report.users += 1
        if len(pending) >= FLUSH_ROWS:
            report.rows += _insert(client, pending)
            pending = []
        if report.users % 100 == 0 or report.users == total:
            progress(report.users, total)
    report.rows += _insert(client, pending)
    progress(report.users, total)
    report.differences = {t: client.query(sql.differences(t), parameters=scope).result_rows[0][0]
                          for t in sql.PROJECTION_TABLES}
    if apply:
        for table in sql.PROJECTION_TABLES:
            client.command(sql.exchange(table))
        report.applied = True
    for table in sql.PROJECTION_TABLES:
        client.command(sql.drop(table))
    return report


def _insert(client, rows: list[dict]) -> int:
    insert_rows(client, rows, sql.SUFFIX)
    return len(rows)
