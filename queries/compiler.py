"""Filter model → parameterized ClickHouse SQL over `users FINAL`, always scoped to one bot. Pure.

Column names come only from the catalogue (queries/columns.py); every value, attribute key and cursor
value is a named server-side parameter `{pN:Type}`, so user input never becomes SQL text. The bot
condition is added here, outside the user's groups, so an "any" group cannot widen it. WHERE runs
after FINAL: a user matches on its newest version only, and deleted users are hidden.

Datetimes are bound as 'YYYY-MM-DD HH:MM:SS.fff' UTC strings (clickhouse-connect's own datetime
binding drops milliseconds). Keyset pagination: rows are ordered by (sort value, user_id) with missing
values last, and a cursor carries the last row's pair, so rows inserted between pages never shift
the rest of the original set.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Callable

from queries.columns import DEFAULT_COLUMNS, Column, FilterError, lookup
from schemas.filters import Condition, Group, SearchRequest, Sort, is_number, parse_date

__all__ = ["FilterError", "SearchQuery", "compile_filter", "compile_search", "encode_cursor", "decode_cursor"]

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


def _condition(condition: Condition, params: _Params, now: datetime, location: str) -> str:
    column = lookup(condition.column, f"{location}.column")
    if condition.function not in column.functions:
        raise FilterError(f"{location}.function",
                          f"{condition.function!r} does not fit {column.name!r} ({column.type}); "
                          f"use one of: {', '.join(column.functions)}")
    operand = _Operand(column, column.expression(params.bind), condition.value, params, now, location)
    return f"({BUILDERS[condition.function](operand)})"


def _group(group: Group, params: _Params, now: datetime, location: str) -> str:
    parts = [(_group(f, params, now, f"{location}.filters[{i}]") if isinstance(f, Group)
              else _condition(f, params, now, f"{location}.filters[{i}]"))
             for i, f in enumerate(group.filters)]
    if not parts:
        return "1"
    return "(" + (" AND " if group.match == "all" else " OR ").join(parts) + ")"


def _where(group: Group, params: _Params, now: datetime) -> str:
    return f"bot_id = {{bot_id:String}} AND is_deleted = 0 AND {_group(group, params, now, 'filter')}"


def compile_filter(group: Group, bot_id: str, *, now: datetime) -> tuple[str, dict[str, Any]]:
    """`SELECT user_id FROM users FINAL WHERE …` for one bot, and its parameters (segment exports use it)."""
    params = _Params(bot_id=bot_id)
    return f"SELECT user_id FROM users FINAL WHERE {_where(group, params, now)}", params.values


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


def compile_search(request: SearchRequest, bot_id: str, *, now: datetime) -> SearchQuery:
    params = _Params(bot_id=bot_id)
    where = _where(request.filter, params, now)
    count_parameters = dict(params.values)
    wanted = request.columns if request.columns is not None else DEFAULT_COLUMNS
    selected = {name: lookup(name, f"columns[{i}]") for i, name in enumerate(wanted)}
    selected.pop("user_id", None)
    sort = lookup(request.sort.column, "sort.column")
    if not sort.sortable:
        raise FilterError("sort.column", f"{sort.name!r} holds lists and cannot be sorted; sort by a text, "
                                         f"number, date or boolean column such as last_seen")
    key = _sort_key(sort, sort.expression(params.bind))
    after = ""
    if request.cursor is not None:
        value, user_id = decode_cursor(request.cursor, request.sort)
        after = f" AND {_after_cursor(key, request.sort.direction, sort, value, user_id, params)}"
    outputs = [f"{column.expression(params.bind)} AS c{i}" for i, column in enumerate(selected.values())]
    direction = {"asc": "ASC", "desc": "DESC"}[request.sort.direction]
    params.values["limit"] = request.limit + 1
    page = (f"SELECT {', '.join(['user_id', *outputs, f'{key} AS sort_key'])}\nFROM users FINAL\n"
            f"WHERE {where}{after}\nORDER BY sort_key IS NULL, sort_key {direction}, user_id\n"
            f"LIMIT {{limit:UInt32}}")
    return SearchQuery(page, params.values, f"SELECT count() FROM users FINAL\nWHERE {where}", count_parameters,
                       ("user_id", *selected), request.sort, request.limit)


def _after_cursor(key: str, direction: str, column: Column, value: Any, user_id: str, params: _Params) -> str:
    """Rows after (value, user_id) in ORDER BY key IS NULL, key <direction>, user_id."""
    user = params.bind(user_id, "String")
    if value is None:
        return f"({key} IS NULL AND user_id > {user})"
    bound = params.bind(sql_time(value) if isinstance(value, datetime) else value, SORT_PARAM_TYPES[column.type])
    op = "<" if direction == "desc" else ">"
    return f"({key} {op} {bound} OR ({key} = {bound} AND user_id > {user}) OR {key} IS NULL)"


def encode_cursor(sort: Sort, value: Any, user_id: str) -> str:
    """Opaque to clients: base64url of JSON {"s": column, "d": direction, "v": sort value, "u": user_id}."""
    if isinstance(value, datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat(
            timespec="milliseconds")
    data = json.dumps({"s": sort.column, "d": sort.direction, "v": value, "u": user_id}, ensure_ascii=False)
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


_NOT_A_CURSOR = "not a cursor this API issued; pass next_cursor from the previous page"


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    """The (sort value, user_id) a cursor carries, checked against the sort it was issued for."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict) or set(data) != {"s", "d", "v", "u"} or not isinstance(data["u"], str):
        raise FilterError("cursor", _NOT_A_CURSOR)
    if (data["s"], data["d"]) != (sort.column, sort.direction):
        raise FilterError("cursor", f"the cursor belongs to sort {data['s']!r} {data['d']!r}, not "
                                    f"{sort.column!r} {sort.direction!r}; start again without a cursor")
    return _cursor_value(data["v"], lookup(sort.column, "sort.column")), data["u"]


def _cursor_value(value: Any, column: Column) -> Any:
    """The cursor's sort value if it has the sort column's type (JSON: ISO string, number, 0/1, string, null)."""
    if value is None:
        return None
    try:
        if column.type == "datetime":
            return parse_date(value)[0]
        if (column.type == "number" and is_number(value)) or (column.type in ("string", "attribute")
                                                              and isinstance(value, str)):
            return value
        if column.type == "boolean" and type(value) is int and value in (0, 1):
            return value
    except ValueError:
        pass
    raise FilterError("cursor", _NOT_A_CURSOR)
