"""Filter model → parameterized ClickHouse SQL over `users FINAL`, always scoped to one bot. Pure.

Column names come only from the catalogue (queries/columns.py); every value, attribute key and cursor
value is a named server-side parameter `{pN:Type}`, so user input never becomes SQL text. The bot
condition is added here, outside the user's groups, so an "any" group cannot widen it. WHERE runs
after FINAL: a user matches on its newest version only, and deleted users are hidden.

Datetimes are bound as 'YYYY-MM-DD HH:MM:SS.fff' UTC strings (clickhouse-connect's own datetime
binding drops milliseconds). Keyset pagination: rows are ordered by (sort value, user_id) with missing
values last, and a cursor carries the last row's pair, so rows inserted between pages never shift
the rest of the original set.

Dynamic segments: given `segments` (dynamic segment id -> saved filter), `segments has <id>` compiles
to that filter, `has_not` to its negation and `in_list` to any of them (ids without a definition stay
tests of the static `segments` array, so a deleted dynamic segment named elsewhere matches by static
membership). Expansion is guarded: a cycle is a FilterError naming it, nesting stops at
MAX_SEGMENT_DEPTH and a filter expands to at most MAX_EXPANDED_CONDITIONS conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from queries.columns import DEFAULT_COLUMNS, Column, FilterError, lookup
from queries.cursors import decode_cursor, encode_cursor
from schemas.filters import Condition, Group, SearchRequest, Sort, parse_date

__all__ = ["CandidateQuery", "FilterError", "SearchQuery", "compile_candidates", "compile_counts", "compile_filter",
           "compile_search", "encode_cursor", "decode_cursor"]

DATETIME = "DateTime64(3, 'UTC')"
SORT_PARAM_TYPES = {"string": "String", "attribute": "String", "number": "Float64", "boolean": "UInt8",
                    "datetime": DATETIME}
# an attribute counts as a date only when it starts like one: parseDateTime64BestEffort alone reads "12" as a day
_ISO_DATE_PREFIX = "'^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"


def sql_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


class _Params:
    def __init__(self, **fixed: Any):
        self.values: dict[str, Any] = dict(fixed)
        self._next = 0
        self.conditions = 0   # compiled so far, dynamic segments' included

    def bind(self, value: Any, type_: str) -> str:
        name = f"p{self._next}"
        self._next += 1
        self.values[name] = value
        return f"{{{name}:{type_}}}"


@dataclass
class _Operand:
    """A condition being compiled: its column's SQL seen as text, number, date or array."""

    column: Column
    expr: str
    value: Any
    params: _Params
    now: datetime
    location: str

    def bind(self, value: Any, type_: str = "String") -> str:
        return self.params.bind(value, type_)

    def at(self, moment: datetime) -> str:
        return self.params.bind(sql_time(moment), DATETIME)

    @property
    def number(self) -> str:
        return f"toFloat64OrNull({self.expr})" if self.column.type == "attribute" else self.expr

    @property
    def date(self) -> str:
        if self.column.type != "attribute":
            return self.expr
        return (f"if(match({self.expr}, {_ISO_DATE_PREFIX}), "
                f"parseDateTime64BestEffortOrNull({self.expr}, 3, 'UTC'), NULL)")


def _negate(positive: str) -> Callable[[_Operand], str]:
    """not_x matches exactly the users x does not, including users without a value."""
    return lambda o: f"NOT ifNull({BUILDERS[positive](o)}, 0)"


def _compare(op: str) -> Callable[[_Operand], str]:
    return lambda o: f"{o.number} {op} {o.bind(float(o.value), 'Float64')}"


def _before(o: _Operand) -> str:
    moment, _ = parse_date(o.value)
    return f"{o.date} < {o.at(moment)}"


def _after(o: _Operand) -> str:
    moment, bare = parse_date(o.value)
    return f"{o.date} >= {o.at(moment + timedelta(days=1))}" if bare else f"{o.date} > {o.at(moment)}"


def _between(o: _Operand) -> str:
    low, high = o.value
    as_dates = isinstance(low, str)
    if (o.column.type == "number" and as_dates) or (o.column.type == "datetime" and not as_dates):
        wanted = "two numbers" if o.column.type == "number" else "two ISO 8601 dates"
        raise FilterError(o.location, f"between on {o.column.name!r} takes {wanted}, got {o.value!r}")
    if not as_dates:
        return (f"{o.number} BETWEEN {o.bind(float(low), 'Float64')} AND {o.bind(float(high), 'Float64')}")
    (start, _), (end, bare) = parse_date(low), parse_date(high)
    lower = f">= {o.at(start)}"
    upper = f"< {o.at(end + timedelta(days=1))}" if bare else f"<= {o.at(end)}"
    return f"({o.date} {lower} AND {o.date} {upper})"


def _in_list(o: _Operand) -> str:
    values = o.bind(list(o.value), "Array(String)")
    return f"hasAny({o.expr}, {values})" if o.column.type == "tags" else f"{o.expr} IN {values}"


def _is_set(o: _Operand) -> str:
    if o.column.type == "tags":
        return f"notEmpty({o.expr})"
    return f"{o.expr} != ''" if o.column.type in ("string", "attribute") else f"isNotNull({o.expr})"


BUILDERS: dict[str, Callable[[_Operand], str]] = {
    "equals": lambda o: f"{o.expr} = {o.bind(o.value)}",
    "not_equals": _negate("equals"),
    "contains": lambda o: f"positionCaseInsensitiveUTF8({o.expr}, {o.bind(o.value)}) > 0",
    "not_contains": _negate("contains"),
    "starts_with": lambda o: f"startsWith(lowerUTF8({o.expr}), lowerUTF8({o.bind(o.value)}))",
    "ends_with": lambda o: f"endsWith(lowerUTF8({o.expr}), lowerUTF8({o.bind(o.value)}))",
    "is_set": _is_set,
    "is_not_set": _negate("is_set"),
    "in_list": _in_list,
    "eq": _compare("="),
    "ne": _negate("eq"),
    "gt": _compare(">"),
    "gte": _compare(">="),
    "lt": _compare("<"),
    "lte": _compare("<="),
    "between": _between,
    "before": _before,
    "after": _after,
    "within_last_days": lambda o: f"{o.date} >= {o.at(o.now - timedelta(days=o.value))}",
    "more_than_days_ago": lambda o: f"{o.date} < {o.at(o.now - timedelta(days=o.value))}",
    "has": lambda o: f"has({o.expr}, {o.bind(o.value)})",
    "has_not": _negate("has"),
    "is_true": lambda o: f"{o.expr} = 1",
    "is_false": lambda o: f"{o.expr} = 0",
}


MAX_SEGMENT_DEPTH = 5            # dynamic segments inside dynamic segments
MAX_EXPANDED_CONDITIONS = 1000   # conditions of a filter once its dynamic segments are expanded


@dataclass(frozen=True)
class _Scope:
    """What a filter compiles with: its parameters, the time, and the dynamic segments it may expand."""

    params: _Params
    now: datetime
    segments: Mapping[str, Group]          # dynamic segment id -> its saved filter
    path: tuple[str, ...] = ()             # the dynamic segments being expanded, outermost first


def _condition(condition: Condition, scope: _Scope, location: str) -> str:
    column = lookup(condition.column, f"{location}.column")
    if condition.function not in column.functions:
        raise FilterError(f"{location}.function",
                          f"{condition.function!r} does not fit {column.name!r} ({column.type}); "
                          f"use one of: {', '.join(column.functions)}")
    scope.params.conditions += 1
    if scope.params.conditions > MAX_EXPANDED_CONDITIONS:
        raise FilterError(location, f"the filter holds more than {MAX_EXPANDED_CONDITIONS} conditions once its "
                                    f"dynamic segments are expanded")
    if column.name == "segments" and condition.function in _SEGMENT_FUNCTIONS:
        ids = [condition.value] if isinstance(condition.value, str) else list(condition.value)
        if any(i in scope.segments for i in ids):
            return _segments(column, condition.function, ids, scope, location)
    return _built(column, condition.function, condition.value, scope, location)


def _built(column: Column, function: str, value: Any, scope: _Scope, location: str) -> str:
    operand = _Operand(column, column.expression(scope.params.bind), value, scope.params, scope.now, location)
    return f"({BUILDERS[function](operand)})"


_SEGMENT_FUNCTIONS = ("has", "has_not", "in_list")   # is_set / is_not_set see static memberships only


def _segments(column: Column, function: str, ids: list[str], scope: _Scope, location: str) -> str:
    """`segments has <id>` of a dynamic segment is its saved filter; has_not its negation; in_list any of them.

    Ids without a definition (static segments) stay tests of the users' `segments` array.
    """
    parts = [_expand(i, scope, location) for i in dict.fromkeys(ids) if i in scope.segments]
    static = [i for i in ids if i not in scope.segments]
    if static:
        parts.append(_built(column, "in_list", static, scope, location))
    matched = "(" + " OR ".join(parts) + ")"
    return f"(NOT ifNull({matched}, 0))" if function == "has_not" else matched


def _expand(segment_id: str, scope: _Scope, location: str) -> str:
    if segment_id in scope.path:
        cycle = [*scope.path[scope.path.index(segment_id):], segment_id]
        raise FilterError(location, f"dynamic segments refer to each other in a cycle: {' -> '.join(cycle)}; "
                                    f"change one of their filters")
    if len(scope.path) >= MAX_SEGMENT_DEPTH:
        raise FilterError(location, f"dynamic segments nest at most {MAX_SEGMENT_DEPTH} deep: "
                                    f"{' -> '.join([*scope.path, segment_id])}")
    inner = _Scope(scope.params, scope.now, scope.segments, (*scope.path, segment_id))
    return _group(scope.segments[segment_id], inner, f"{location} -> segment {segment_id!r} filter")


def _group(group: Group, scope: _Scope, location: str) -> str:
    parts = [(_group(f, scope, f"{location}.filters[{i}]") if isinstance(f, Group)
              else _condition(f, scope, f"{location}.filters[{i}]"))
             for i, f in enumerate(group.filters)]
    if not parts:
        return "1"
    return "(" + (" AND " if group.match == "all" else " OR ").join(parts) + ")"


def _where(group: Group, scope: _Scope) -> str:
    return f"bot_id = {{bot_id:String}} AND is_deleted = 0 AND {_group(group, scope, 'filter')}"


def compile_filter(group: Group, bot_id: str, *, now: datetime,
                   segments: Mapping[str, Group] | None = None) -> tuple[str, dict[str, Any]]:
    """`SELECT user_id FROM users FINAL WHERE …` for one bot, and its parameters (segment exports use it).

    `segments` maps the bot's dynamic segment ids to their saved filters, so `segments has <id>` means
    "matches that filter"; without it every segment id is tested against the static memberships.
    """
    scope = _Scope(_Params(bot_id=bot_id), now, segments or {})
    return f"SELECT user_id FROM users FINAL WHERE {_where(group, scope)}", scope.params.values


def compile_counts(groups: Sequence[Group], bot_id: str, *, now: datetime,
                   segments: Mapping[str, Group] | None = None) -> tuple[str, dict[str, Any]]:
    """One scan that counts the bot's current users matching each group: `SELECT countIf(…) AS c0, …`."""
    scope = _Scope(_Params(bot_id=bot_id), now, segments or {})
    counts = [f"countIf({_group(group, scope, f'filters[{i}]')}) AS c{i}" for i, group in enumerate(groups)]
    return (f"SELECT {', '.join(counts) or '0'} FROM users FINAL\n"
            f"WHERE bot_id = {{bot_id:String}} AND is_deleted = 0", scope.params.values)


@dataclass(frozen=True)
class SearchQuery:
    sql: str                    # one page: user_id, the selected columns, then the sort key
    parameters: dict[str, Any]
    count_sql: str              # how many users match in all (the cursor does not count)
    count_parameters: dict[str, Any]
    columns: tuple[str, ...]    # output names, user_id first
    sort: Sort
    limit: int                  # the page size; the SQL fetches one more row to know whether a next page exists


def _sort_key(column: Column, expr: str) -> str:
    """Empty text sorts like a missing value: last, whichever the direction."""
    return f"nullIf({expr}, '')" if column.type in ("string", "attribute") else expr


def _page_parts(request: SearchRequest, params: _Params) -> tuple[dict[str, Column], list[str], Column, str]:
    """What a page of the request selects: its columns, their output SQL, the sort column and its sort key."""
    wanted = request.columns if request.columns is not None else DEFAULT_COLUMNS
    selected = {name: lookup(name, f"columns[{i}]") for i, name in enumerate(wanted)}
    selected.pop("user_id", None)
    sort = lookup(request.sort.column, "sort.column")
    if not sort.sortable:
        raise FilterError("sort.column", f"{sort.name!r} holds lists and cannot be sorted; sort by a text, "
                                         f"number, date or boolean column such as last_seen")
    key = _sort_key(sort, sort.expression(params.bind))
    outputs = [f"{column.expression(params.bind)} AS c{i}" for i, column in enumerate(selected.values())]
    return selected, outputs, sort, key


def _cursor_condition(request: SearchRequest, sort: Column, key: str, params: _Params) -> str:
    if request.cursor is None:
        return ""
    value, user_id = decode_cursor(request.cursor, request.sort)
    return f" AND {_after_cursor(key, request.sort.direction, sort, value, user_id, params)}"


@dataclass(frozen=True)
class _Page:
    """A page request compiled: its filter (and the parameters of the filter alone), columns, key, cursor."""

    params: _Params
    where: str
    where_parameters: dict[str, Any]
    selected: dict[str, Column]
    outputs: list[str]
    key: str
    after: str


def _page(request: SearchRequest, bot_id: str, now: datetime, segments: Mapping[str, Group] | None) -> _Page:
    scope = _Scope(_Params(bot_id=bot_id), now, segments or {})
    where = _where(request.filter, scope)
    where_parameters = dict(scope.params.values)
    selected, outputs, sort, key = _page_parts(request, scope.params)
    after = _cursor_condition(request, sort, key, scope.params)
    return _Page(scope.params, where, where_parameters, selected, outputs, key, after)


def compile_search(request: SearchRequest, bot_id: str, *, now: datetime,
                   segments: Mapping[str, Group] | None = None) -> SearchQuery:
    page = _page(request, bot_id, now, segments)
    direction = {"asc": "ASC", "desc": "DESC"}[request.sort.direction]
    page.params.values["limit"] = request.limit + 1
    sql = (f"SELECT {', '.join(['user_id', *page.outputs, f'{page.key} AS sort_key'])}\nFROM users FINAL\n"
           f"WHERE {page.where}{page.after}\nORDER BY sort_key IS NULL, sort_key {direction}, user_id\n"
           f"LIMIT {{limit:UInt32}}")
    return SearchQuery(sql, page.params.values, f"SELECT count() FROM users FINAL\nWHERE {page.where}",
                       page.where_parameters, ("user_id", *page.selected), request.sort, request.limit)


CANDIDATE_SORT = "last_seen"   # the order of the users table's by_last_seen projection (migration 0006)


@dataclass(frozen=True)
class CandidateQuery:
    sql: str                    # user_id, the selected columns, the sort key, then the row's version
    parameters: dict[str, Any]  # `rows` is how many row versions to read
    unseen_sql: str             # 1 if any row version without a last_seen matches (those sort after all others)
    unseen_parameters: dict[str, Any]


def compile_candidates(request: SearchRequest, bot_id: str, *, now: datetime,
                       segments: Mapping[str, Group] | None = None) -> CandidateQuery | None:
    """Row versions (current or superseded) that match the request, in last_seen order, without FINAL.

    Without FINAL ClickHouse reads the by_last_seen projection in order and stops after `rows`, where FINAL
    reads and sorts every current user of the bot. queries/candidates.py keeps the rows that are still
    their user's newest version. Only users with a last_seen are read (a NULL would sort first here, last
    in the page); None for another sort column or a cursor already among users never seen.
    """
    if request.sort.column != CANDIDATE_SORT:
        return None
    if request.cursor is not None and decode_cursor(request.cursor, request.sort)[0] is None:
        return None
    page = _page(request, bot_id, now, segments)
    order = f"{CANDIDATE_SORT} DESC NULLS FIRST" if request.sort.direction == "desc" else f"{CANDIDATE_SORT} ASC"
    sql = (f"SELECT {', '.join(['user_id', *page.outputs, f'{page.key} AS sort_key', 'version'])}\nFROM users\n"
           f"WHERE {page.where} AND {CANDIDATE_SORT} IS NOT NULL{page.after}\nORDER BY {order}\n"
           f"LIMIT {{rows:UInt32}}")
    unseen = f"SELECT 1 FROM users\nWHERE {page.where} AND {CANDIDATE_SORT} IS NULL\nLIMIT 1"
    return CandidateQuery(sql, page.params.values, unseen, page.where_parameters)


def _after_cursor(key: str, direction: str, column: Column, value: Any, user_id: str, params: _Params) -> str:
    """Rows after (value, user_id) in ORDER BY key IS NULL, key <direction>, user_id."""
    user = params.bind(user_id, "String")
    if value is None:
        return f"({key} IS NULL AND user_id > {user})"
    bound = params.bind(sql_time(value) if isinstance(value, datetime) else value, SORT_PARAM_TYPES[column.type])
    op = "<" if direction == "desc" else ">"
    return f"({key} {op} {bound} OR ({key} = {bound} AND user_id > {user}) OR {key} IS NULL)"
