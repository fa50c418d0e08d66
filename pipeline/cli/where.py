"""`--where 'country = Poland'`: the CLI's filter conditions, typed by the column catalogue.

Form: `<column> <function or operator> [value]`. Operators are shorthands: = and != mean equals /
not_equals on text and eq / ne on numbers; > >= < <= compare numbers; on dates > and < mean after
and before. `between` and `in_list` take comma-separated values. Numbers become numbers.
"""

from __future__ import annotations

import re
from typing import Any

from queries.columns import lookup
from schemas.filters import Condition

OPERATORS = {
    "string": {"=": "equals", "!=": "not_equals"},
    "attribute": {"=": "equals", "!=": "not_equals", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"},
    "number": {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"},
    "datetime": {">": "after", "<": "before"},
    "tags": {"=": "has", "!=": "has_not"},
    "boolean": {},
}
_SHAPE = re.compile(r"^\s*(\S+)\s+(!=|>=|<=|=|>|<|[a-z_]+)(?:\s+(.*?))?\s*$", re.S)


class WhereError(ValueError):
    pass


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_where(expression: str) -> Condition:
    match = _SHAPE.match(expression)
    if not match:
        raise WhereError(f"expected '<column> <function> [value]', e.g. 'country = Poland' (got {expression!r})")
    name, function, raw = match.group(1), match.group(2), match.group(3)
    column = lookup(name, "--where")
    function = OPERATORS.get(column.type, {}).get(function, function)
    value: Any = raw
    numeric = column.type == "number" or (column.type == "attribute" and function in ("eq", "ne", "gt", "gte",
                                                                                    "lt", "lte"))
    if function in ("between", "in_list") and raw is not None:
        value = [part.strip() for part in raw.split(",")]
        if column.type == "number" or (column.type == "attribute" and all(
                isinstance(_number(v), int | float) for v in value)):
            value = [_number(v) for v in value]
    elif function in ("within_last_days", "more_than_days_ago") and raw is not None:
        value = _number(raw)
    elif numeric and raw is not None:
        value = _number(raw)
    try:
        return Condition(column=name, function=function, value=value)
    except ValueError as e:
        raise WhereError(f"--where {expression!r}: {e}") from None
