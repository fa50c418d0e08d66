"""A frozen dataclass made or changed without running its __init__.

`dataclasses.replace` rebuilds the object through __init__ (a few microseconds for a state of twenty-odd
fields), and a frozen dataclass's own __init__ sets each field through `object.__setattr__` (about 1 µs for
a session's eight); the fold makes and changes objects several times per event, so its hot path fills their
fields directly. Only for dataclasses whose __init__ validates nothing (no __post_init__).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def make(cls: type[T], **fields: Any) -> T:
    """An instance from every one of its fields (none left to a default)."""
    new = object.__new__(cls)
    new.__dict__.update(fields)
    return new


def evolve(obj: T, **changes: Any) -> T:
    new = object.__new__(type(obj))
    fields = new.__dict__
    fields.update(obj.__dict__)
    fields.update(changes)
    return new
