"""A page of users sorted by last seen without FINAL: read from the by_last_seen projection, then verified.

With FINAL ClickHouse reads and sorts every current user of the bot before it can return 50 of them
(at a million users, most of the page's time). Without FINAL it reads the projection in last_seen order
and stops early, but sees every version of a row, superseded ones included. So:

1. candidates: the first row versions matching the filter, in last_seen order (compile_candidates);
2. current: the newest version of each candidate user (one query, by primary key);
3. a candidate that is its user's newest version is a result.

Why that is exact: a result is a newest version that matches, so it is one of the row versions read in
step 1 unless it sorts after the last one read. When fewer rows than asked for come back, every matching
version was read. Otherwise the rows tied with the last one read may be cut, so only rows sorting before
that last value count: the verified ones among them are exactly the first results, in order. When they
are fewer than a page (many superseded versions, or a long tie), more rows are read; after that, or when
users never seen (no last_seen, sorted last) could fill the page, the caller runs the FINAL query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from queries.compiler import compile_candidates
from schemas.filters import Group, SearchRequest

NEWEST_VERSIONS = """
SELECT user_id, max(version)
FROM users
WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)}
GROUP BY user_id
"""

ROUNDS = 2        # reads of candidates before giving up to FINAL, each GROWTH times larger
GROWTH = 8


def first_rows(client, request: SearchRequest, bot_id: str, *, now: datetime,
               segments: Mapping[str, Group] | None = None, first_read: int | None = None) -> list[tuple] | None:
    """The page's rows as the FINAL query returns them (user_id, columns…, sort key; limit + 1 of them).

    None when this way cannot answer (another sort, a cursor among users never seen, or not enough
    current versions among the candidates): the caller runs the FINAL query.
    """
    query = compile_candidates(request, bot_id, now=now, segments=segments)
    if query is None:
        return None
    wanted = request.limit + 1
    size = first_read or wanted + max(13, wanted // 4)   # a little over a page: ties and superseded rows
    for _ in range(ROUNDS):
        rows = client.query(query.sql, parameters={**query.parameters, "rows": size}).result_rows
        complete = len(rows) < size
        settled = rows if complete else [row for row in rows if row[-2] != rows[-1][-2]]
        current = _current(client, bot_id, settled)
        if len(current) >= wanted:
            return _ordered(current, request.sort.direction)[:wanted]
        if complete:
            unseen = client.query(query.unseen_sql, parameters=query.unseen_parameters).result_rows
            return None if unseen else _ordered(current, request.sort.direction)
        size *= GROWTH
    return None


def _current(client, bot_id: str, rows: Sequence[tuple]) -> list[tuple]:
    """The rows that are their user's newest version, once per user, without the version column."""
    if not rows:
        return []
    user_ids = list(dict.fromkeys(row[0] for row in rows))
    newest = dict(client.query(NEWEST_VERSIONS, parameters={"bot_id": bot_id, "user_ids": user_ids}).result_rows)
    kept: dict[str, tuple] = {}
    for row in rows:
        if newest.get(row[0]) == row[-1] and row[0] not in kept:
            kept[row[0]] = row[:-1]
    return list(kept.values())


def _ordered(rows: list[tuple], direction: str) -> list[tuple]:
    """The FINAL query's order: sort key in the direction asked, ties by user_id ascending."""
    by_user = sorted(rows, key=lambda row: row[0])
    return sorted(by_user, key=lambda row: row[-1], reverse=direction == "desc")

