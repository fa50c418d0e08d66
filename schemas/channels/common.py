"""What every channel parser shares: the errors it may raise, and type checks and time parsing with one
wording for every platform (which field, what was expected, what came)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas.events import invalid


class PayloadError(ValueError):
    """The platform's payload is not shaped as documented: which field, what was expected, what came."""

    def __init__(self, field: str, expected: str, got: Any):
        self.field, self.expected, self.got = field, expected, got
        super().__init__(f"{field}: expected {expected}, got {shown(got)}")


class HandshakeRejected(ValueError):
    """A subscription handshake (Messenger GET verification) that must be answered 403."""


MISSING = object()


def shown(value: Any) -> str:
    """A short, safe rendering of an offending value for error messages."""
    if value is MISSING:
        return "nothing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "bool": (lambda v: isinstance(v, bool), "a boolean"),
    "dict": (lambda v: isinstance(v, dict), "an object"),
    "list": (lambda v: isinstance(v, list), "an array"),
    "id": (lambda v: (isinstance(v, str) and v != "") or (isinstance(v, int) and not isinstance(v, bool)),
           "a non-empty string or integer id"),
}


def get(obj: dict[str, Any], key: str, kind: str, where: str, *, required: bool = False,
        expected: str | None = None) -> Any:
    """``obj[key]`` checked against ``kind``; JSON null counts as absent. ``where`` is obj's path."""
    value = obj.get(key)
    path = f"{where}.{key}" if where else key
    check, name = _KINDS[kind]
    if value is None:
        if required:
            raise PayloadError(path, expected or name, MISSING)
        return None
    if not check(value):
        raise PayloadError(path, expected or name, value)
    return value


def items(obj: dict[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects of an optional array, each with its path (``entry[2]``)."""
    path = f"{where}.{key}" if where else key
    out = []
    for i, item in enumerate(get(obj, key, "list", where) or []):
        if not isinstance(item, dict):
            raise PayloadError(f"{path}[{i}]", "an object", item)
        out.append((f"{path}[{i}]", item))
    return out


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PayloadError("body", "a JSON object", body)
    return body


def from_unix(value: Any, path: str, unit: str = "s") -> datetime:
    """Unix seconds (``unit='s'``) or milliseconds (``'ms'``) to an aware UTC datetime."""
    expected = "Unix time in milliseconds" if unit == "ms" else "Unix time in seconds"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(path, expected, value)
    try:
        return datetime.fromtimestamp(value / 1000 if unit == "ms" else value, UTC)
    except (ValueError, OverflowError, OSError):
        raise PayloadError(path, expected, value) from None


_DECIMAL_SECONDS = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")


def from_decimal_string(value: Any, path: str) -> datetime:
    """Slack's "1355517523.000005" (seconds.microseconds, as a string) to UTC."""
    if not isinstance(value, str) or not _DECIMAL_SECONDS.fullmatch(value):
        raise PayloadError(path, 'a "seconds.micro" timestamp string', value)
    seconds, _, fraction = value.partition(".")  # exact: a float can turn .001000 into .000999
    try:
        return from_unix(int(seconds), path) + timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    except PayloadError:
        raise PayloadError(path, 'a "seconds.micro" timestamp string', value) from None


def from_iso(value: Any, path: str) -> datetime:
    """RFC 3339 with an offset (``Z`` or ``+01:00``) to UTC; a time without a zone is refused."""
    expected = "an RFC 3339 timestamp with a time zone"
    if not isinstance(value, str) or len(value) > 64:
        raise PayloadError(path, expected, value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(path, expected, value) from None
    if parsed.tzinfo is None:
        raise PayloadError(path, expected, value)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PayloadError(path, expected, value) from None


def make(model: type, **fields: Any) -> Any:
    """Build a canonical event (or a part of one); what the schema refuses becomes InvalidEvent, never
    ValidationError."""
    try:
        return model(**fields)
    except ValidationError as e:
        raise invalid(e) from None


def text_of(value: Any) -> str | None:
    """A non-empty, stripped string or None (for optional profile fields)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
