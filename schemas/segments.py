"""Segments: named groups of users. Static ones hold members added by admin events (the users'
`segments` array); dynamic ones are a saved filter, evaluated whenever they are asked for.

    {"name": "Pro users in Poland", "kind": "dynamic",
     "filter": {"filters": [{"column": "attributes.plan", "function": "equals", "value": "pro"},
                            {"column": "country", "function": "equals", "value": "PL"}]}}

A segment's id is a slug of its name made once, at creation (`pro-users-in-poland`), and kept across
renames; `segments has <id>` in any filter means its members, whichever the kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.filters import Condition, Group

SEGMENT_ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
MAX_NAME = 200
Kind = Literal["static", "dynamic"]


def members_filter(segment_id: str) -> Group:
    """`segments has <id>`: the members of a segment, whichever its kind (the compiler resolves dynamic ones)."""
    return Group(filters=[Condition(column="segments", function="has", value=segment_id)])


def _check_name(name: str | None) -> None:
    if name is not None and (not name.strip() or not name.isprintable()):
        raise ValueError(f"name: expected printable text with something besides spaces, got {name[:80]!r}")


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME, examples=["Pro users in Poland"])
    kind: Kind = Field(default="static", description="static: members added by actions; dynamic: a saved filter")
    filter: Group | None = Field(default=None, description="the saved filter (dynamic segments only)")

    @model_validator(mode="after")
    def _fits_kind(self) -> SegmentCreate:
        _check_name(self.name)
        if self.kind == "dynamic" and self.filter is None:
            raise ValueError("a dynamic segment needs a filter")
        if self.kind == "static" and self.filter is not None:
            raise ValueError("a static segment takes no filter (its members are added with add_to_segment); "
                             "use kind 'dynamic' for a saved filter")
        return self


class SegmentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME, description="the new name (id unchanged)")
    filter: Group | None = Field(default=None, description="the new saved filter (dynamic segments only)")

    @model_validator(mode="after")
    def _something(self) -> SegmentPatch:
        _check_name(self.name)
        if self.name is None and self.filter is None:
            raise ValueError("give a new name, a new filter, or both")
        return self


class Segment(BaseModel):
    """A segment definition as kept on the segments topic (key `<bot_id>:<segment_id>`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    segment_id: str = Field(pattern=SEGMENT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=MAX_NAME)
    kind: Kind
    filter: Group | None = None
    created_at: datetime
    updated_at: datetime
