"""A CSV export request: which users (explicit ids, a filter, or everyone), which columns.

    {"filter": {"match": "all", "filters": [{"column": "country", "function": "equals", "value": "PL"}]},
     "columns": ["user_id", "name", "email", "attributes.plan", "tags"]}

Give `user_ids`, `filter` or `segment` (its members: the filter `segments has <id>`), at most one;
none exports every user of the bot. Which column exists is
the catalogue's check (queries/columns.py), made when the export is compiled.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.filters import Group
from schemas.segments import members_filter

DEFAULT_EXPORT_COLUMNS = ("user_id", "name", "email", "last_seen", "first_seen")
DIRECT_LIMIT = 10_000        # exports of at most this many users download at once; larger ones run as a job
MAX_USER_IDS = 100_000
MAX_COLUMNS = 200

UserId = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_ids: list[UserId] | None = Field(default=None, min_length=1, max_length=MAX_USER_IDS,
                                          description="export exactly these users (unknown ids are skipped)")
    filter: Group | None = Field(default=None, description="export every user matching this filter")
    segment: str | None = Field(default=None, min_length=1, max_length=256,
                                description="export the members of this segment (static or dynamic) by its id")
    columns: list[str] = Field(default_factory=lambda: list(DEFAULT_EXPORT_COLUMNS), min_length=1,
                               max_length=MAX_COLUMNS,
                               description="catalogue names, attributes.<key> included, in file order")
    direct_limit: int | None = Field(default=None, ge=0, le=DIRECT_LIMIT,
                                     description=f"run the export as a job when more users than this match "
                                                 f"(default and maximum {DIRECT_LIMIT})")

    @model_validator(mode="after")
    def _one_selection(self) -> ExportRequest:
        if self.user_ids is not None and self.filter is not None:
            raise ValueError("give user_ids or filter, not both")
        if self.segment is not None and (self.user_ids is not None or self.filter is not None):
            raise ValueError("give segment alone: it chooses the users, as user_ids or filter would")
        return self

    @property
    def selection(self) -> Group | list[str]:
        """The explicit ids, else the filter, else the segment's members (an empty filter matches every user)."""
        if self.user_ids is not None:
            return self.user_ids
        if self.segment is not None:
            return members_filter(self.segment)
        return self.filter if self.filter is not None else Group()
