"""Keyset cursors of the Users search: opaque to clients, checked against the sort they were issued for. Pure."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from queries.columns import Column, FilterError, lookup
from schemas import json_input
from schemas.filters import Sort, is_number, parse_date


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
        data = json_input.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
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
