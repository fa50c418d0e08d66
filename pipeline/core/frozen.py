"""A frozen dataclass with some fields changed, without running its __init__ again.

`dataclasses.replace` rebuilds the object through __init__ (a few microseconds for a state of twenty-odd
fields); the fold changes a user's state several times per event, so its hot path copies the fields instead.
Only for dataclasses whose __init__ validates nothing (no __post_init__).
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


def evolve(obj: T, **changes: Any) -> T:
    new = object.__new__(type(obj))
    fields = new.__dict__
    fields.update(obj.__dict__)
    fields.update(changes)
    return new
