"""Filters and searches of the Users section: (column, function, value) conditions in all/any groups.

    {"match": "all", "filters": [
        {"column": "country", "function": "equals", "value": "Poland"},
        {"match": "any", "filters": [{"column": "tags", "function": "has", "value": "vip"},
                                     {"column": "attributes.seats", "function": "gt", "value": 10}]}]}

Functions by column type (queries/columns.py types every column; `attributes.<key>` takes all of
text, number and date functions, comparing the value as a number or a date when it parses as one):

- text:     equals, not_equals, contains, not_contains, starts_with, ends_with, is_set, is_not_set, in_list
- number:   eq, ne, gt, gte, lt, lte, between (+ is_set, is_not_set where a value can be missing)
- datetime: before, after, between, within_last_days, more_than_days_ago, is_set, is_not_set
- tags:     has, has_not, in_list (has any of them), is_set (has any), is_not_set (has none)
- boolean:  is_true, is_false

Values: text functions take a string (equals and in_list match exactly; contains, starts_with and
ends_with ignore case); in_list a non-empty list of strings; number functions a JSON number; date
functions an ISO 8601 date or date-time (no zone means UTC; a bare date means that whole UTC day);
between [low, high], both numbers or both dates; within_last_days / more_than_days_ago a number
of days >= 0; is_set, is_not_set, is_true, is_false no value. Every not_* / ne / has_not function
matches exactly the users its positive twin does not (a user without a value included).
This module checks the shape of a request; which column exists and takes which function is the
compiler's check (queries/compiler.py), because the column catalogue lives in queries/.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Callable, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Function = Literal[
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "is_set", "is_not_set",
    "in_list", "eq", "ne", "gt", "gte", "lt", "lte", "between", "before", "after", "within_last_days",
    "more_than_days_ago", "has", "has_not", "is_true", "is_false"]
FUNCTIONS: tuple[str, ...] = get_args(Function)

MAX_DEPTH = 5            # nesting levels of groups
MAX_CONDITIONS = 100     # conditions in a whole filter
MAX_LIST = 1000          # items of an in_list value
MAX_TEXT = 1000          # characters of a text value
MAX_DAYS = 36500


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_ISO_EXAMPLE = "an ISO 8601 date such as '2026-01-31' or '2026-01-31T09:30:00Z'"


def parse_date(value: Any) -> tuple[datetime, bool]:
    """An ISO 8601 date or date-time as an aware UTC datetime, and whether it was a bare date."""
    if not isinstance(value, str):
        raise ValueError(f"expected {_ISO_EXAMPLE}, got {_shown(value)}")
    try:
        moment, bare = datetime.combine(date.fromisoformat(value), time(), UTC), True
    except ValueError:
        try:
            moment, bare = datetime.fromisoformat(value), False
        except ValueError:
            raise ValueError(f"expected {_ISO_EXAMPLE}, got {_shown(value)}") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not 1900 <= moment.year <= 2299:
        raise ValueError(f"expected a date between 1900 and 2299, got {_shown(value)}")
    return moment, bare


def is_number(value: Any) -> bool:
    """A JSON number that fits a Float64 (not a bool, not NaN or infinite, not a 400-digit integer)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _no_value(value: Any) -> None:
    if value is not None:
        raise ValueError(f"takes no value, got {_shown(value)}")


def _text(value: Any) -> None:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"expected a string of at most {MAX_TEXT} characters, got {_shown(value)}")


def _text_list(value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
        raise ValueError(f"expected a non-empty list of at most {MAX_LIST} strings, got {_shown(value)}")
    for item in value:
        _text(item)


def _number(value: Any) -> None:
    if not is_number(value):
        raise ValueError(f"expected a number, got {_shown(value)}")


def _date(value: Any) -> None:
    parse_date(value)


def _days(value: Any) -> None:
    if not is_number(value) or not 0 <= value <= MAX_DAYS:
        raise ValueError(f"expected a number of days from 0 to {MAX_DAYS}, got {_shown(value)}")


def _range(value: Any) -> None:
    expected = "expected [low, high]: two numbers or two ISO 8601 dates"
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"{expected}, got {_shown(value)}")
    low, high = value
    if is_number(low) and is_number(high):
        ordered = low <= high
    elif isinstance(low, str) and isinstance(high, str):
        ordered = parse_date(low)[0] <= parse_date(high)[0]
    else:
        raise ValueError(f"{expected}, got {_shown(value)}")
    if not ordered:
        raise ValueError(f"expected the low bound first, got {_shown(value)}")


VALUE_CHECKS: dict[str, Callable[[Any], None]] = {
    **dict.fromkeys(("equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "has",
                     "has_not"), _text),
    "in_list": _text_list,
    **dict.fromkeys(("eq", "ne", "gt", "gte", "lt", "lte"), _number),
    "between": _range,
    **dict.fromkeys(("before", "after"), _date),
    **dict.fromkeys(("within_last_days", "more_than_days_ago"), _days),
    **dict.fromkeys(("is_set", "is_not_set", "is_true", "is_false"), _no_value),
}


class Condition(BaseModel):
    """One (column, function, value) triple."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1, max_length=200, examples=["country", "attributes.plan", "last_seen"])
    function: Function
    value: Any = Field(default=None, examples=["Poland"])

    @model_validator(mode="after")
    def _value_fits_function(self) -> Condition:
        try:
            VALUE_CHECKS[self.function](self.value)
        except ValueError as error:
            raise ValueError(f"{self.function} on {self.column!r}: {error}") from None
        return self


def _kind(item: Any) -> str:
    keys = item if isinstance(item, dict) else vars(item) if isinstance(item, BaseModel) else {}
    return "group" if "filters" in keys or "match" in keys else "condition"


Filter = Annotated[Union[Annotated[Condition, Tag("condition")], Annotated["Group", Tag("group")]],
                   Discriminator(_kind)]


class Group(BaseModel):
    """Conditions and nested groups; all must hold ("all") or at least one ("any"). Empty matches everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: Literal["all", "any"] = "all"
    filters: list[Filter] = Field(default_factory=list, max_length=MAX_CONDITIONS)

    @model_validator(mode="after")
    def _bounded(self) -> Group:
        if depth(self) > MAX_DEPTH:
            raise ValueError(f"groups nest at most {MAX_DEPTH} levels deep")
        if count_conditions(self) > MAX_CONDITIONS:
            raise ValueError(f"a filter has at most {MAX_CONDITIONS} conditions")
        return self


def depth(group: Group) -> int:
    return 1 + max((depth(f) for f in group.filters if isinstance(f, Group)), default=0)


def count_conditions(group: Group) -> int:
    return sum(count_conditions(f) if isinstance(f, Group) else 1 for f in group.filters)


class Sort(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(default="last_seen", min_length=1, max_length=200)
    direction: Literal["asc", "desc"] = "desc"


class CountRequest(BaseModel):
    """How many users match a filter (the total of a search, asked on its own)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filter: Group = Field(default_factory=Group)


class SearchRequest(BaseModel):
    """A page of users: who (filter), what (columns), in which order (sort), from where (cursor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filter: Group = Field(default_factory=Group)
    columns: list[str] | None = Field(default=None, max_length=100,
                                      description="catalogue column names; default: name, email, last_seen, "
                                                  "first_seen (user_id always comes first)")
    sort: Sort = Field(default_factory=Sort, description="default: last_seen, newest first; missing values last")
    cursor: str | None = Field(default=None, max_length=20000,
                               description="next_cursor of the previous page, opaque")
    limit: int = Field(default=50, ge=1, le=1000)
    with_total: bool = Field(default=True, description="also count every match; false answers `total: null` "
                                                       "sooner (the Users page asks POST …/users/count next)")
