"""The whitelist catalogue of the Users section: the only names a filter, sort or column selection may use.

Each column maps to a SQL expression over `users FINAL`, a type and the functions that fit it, with a
label in the words of the Users page. Custom attributes are `attributes.<key>`: the key must match
ATTRIBUTE_KEY and reaches SQL only as a bound parameter, never as text. `channel` holds the user's
channels (livechat, messenger, telegram, slack, web), tested like tags. Pure: no client, no I/O.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable

from schemas.events import PROFILE_FIELDS

ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")

TEXT_FUNCTIONS = ("equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "is_set",
                  "is_not_set", "in_list")
NUMBER_FUNCTIONS = ("eq", "ne", "gt", "gte", "lt", "lte", "between")
DATE_FUNCTIONS = ("before", "after", "between", "within_last_days", "more_than_days_ago")
PRESENCE_FUNCTIONS = ("is_set", "is_not_set")
FUNCTIONS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "string": TEXT_FUNCTIONS,
    "number": NUMBER_FUNCTIONS,
    "datetime": DATE_FUNCTIONS + PRESENCE_FUNCTIONS,
    "boolean": ("is_true", "is_false"),
    "tags": ("has", "has_not", "in_list", "is_set", "is_not_set"),
    # a custom attribute is text that may hold a number or an ISO 8601 date
    "attribute": TEXT_FUNCTIONS + NUMBER_FUNCTIONS[:-1] + DATE_FUNCTIONS,
}
DEFAULT_COLUMNS = ("name", "email", "last_seen", "first_seen")   # the seed's default view


class FilterError(ValueError):
    """A request the catalogue cannot answer: says where (location), what was expected and what came."""

    def __init__(self, location: str, message: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


@dataclass(frozen=True)
class Column:
    name: str            # the API name: "country", "attributes.plan"
    label: str           # the Users page's words: "Country", "Last seen"
    type: str            # string | number | datetime | boolean | tags | attribute
    sql: str = ""        # expression over `users FINAL` (empty for an attribute: see expression())
    nullable: bool = False
    key: str | None = None   # an attribute's key

    @property
    def functions(self) -> tuple[str, ...]:
        extra = PRESENCE_FUNCTIONS if self.nullable and self.type == "number" else ()
        return FUNCTIONS_BY_TYPE[self.type] + extra

    @property
    def sortable(self) -> bool:
        return self.type != "tags"

    def expression(self, bind: Callable[[Any, str], str]) -> str:
        """The column's SQL; `bind(value, type)` returns the placeholder of a new parameter."""
        return self.sql if self.key is None else f"attributes[{bind(self.key, 'String')}]"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "type": self.type, "functions": list(self.functions),
                "sortable": self.sortable}


_PROFILE_LABELS = {"ip": "IP", "source": "Source URL", "external_user_id": "External user ID"}
_COLUMNS = (
    Column("user_id", "User ID", "string", "user_id"),
    *(Column(name, _PROFILE_LABELS.get(name, name.capitalize()), "string", name) for name in PROFILE_FIELDS),
    Column("banned", "Banned", "boolean", "banned"),
    Column("channel", "Channel", "tags", "channels"),
    Column("sessions", "Sessions", "number", "sessions"),
    Column("messages_sent", "Messages sent", "number", "messages_sent"),
    Column("clicks", "Clicks", "number", "clicks"),
    Column("time_spent_seconds", "Time spent", "number", "time_spent_seconds"),
    Column("avg_sentiment", "Average sentiment", "number", "avg_sentiment", nullable=True),
    Column("first_seen", "First seen", "datetime", "first_seen", nullable=True),
    Column("last_seen", "Last seen", "datetime", "last_seen", nullable=True),
    Column("last_message_at", "Last message at", "datetime", "last_message_at", nullable=True),
    Column("tags", "Tags", "tags", "tags"),
    Column("segments", "Segments", "tags", "segments"),
)
CATALOGUE: dict[str, Column] = {c.name: c for c in _COLUMNS}


def lookup(name: str, location: str = "column") -> Column:
    """The catalogue column called `name`, or a FilterError naming valid columns."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX):]
        if not ATTRIBUTE_KEY.fullmatch(key):
            raise FilterError(location, f"an attribute key is 1 to 128 letters, digits, '_', '.' or '-', "
                                        f"got {key[:80]!r}")
        return Column(name, key, "attribute", key=key)
    close = difflib.get_close_matches(name, CATALOGUE, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise FilterError(location, f"unknown column {name[:80]!r}; {hint}columns include name, email, country, "
                                f"sessions, last_seen, tags, segments, channel and attributes.<key>")


def describe() -> list[dict[str, Any]]:
    """The catalogue for the page's column menu and the API docs (attributes.<key> as a template)."""
    return [c.describe() for c in _COLUMNS] + [Column("attributes.<key>", "Custom attribute", "attribute",
                                                       key="<key>").describe()]
