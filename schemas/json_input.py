"""Untrusted JSON in: one decoder for every body, payload and cursor that comes from outside.

Standard JSON only (RFC 8259: no NaN or Infinity, no integer too large for a double), UTF-8, nested at
most MAX_JSON_DEPTH levels. Anything else is a ValueError (json.JSONDecodeError) naming the problem, so a
hostile document is a 400 like any malformed one, never a RecursionError or a value nothing downstream
can encode again.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.limits import MAX_JSON_DEPTH


class TooDeep(orjson.JSONDecodeError):
    pass


def loads(data: str | bytes) -> Any:
    value = orjson.loads(data)
    if isinstance(value, (dict, list)) and _may_nest_deeply(data) and depth(value) > MAX_JSON_DEPTH:
        raise TooDeep(f"nested deeper than {MAX_JSON_DEPTH} levels", "", 0)
    return value


def _may_nest_deeply(data: str | bytes) -> bool:
    """A document with no more opening brackets than the limit (in strings too) cannot nest past it: an event
    (a line of a bulk request) skips the walk: 1.65 → 0.91 µs a line of the stream bench's traffic."""
    if isinstance(data, str):
        return data.count("{") + data.count("[") > MAX_JSON_DEPTH
    return data.count(b"{") + data.count(b"[") > MAX_JSON_DEPTH


def depth(value: Any) -> int:
    """Levels of arrays and objects (iterative: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
