"""Canonical chat events: the one shape every channel and admin action becomes on the log.

Events are JSON on the wire (pydantic discriminated union on ``kind``). Old payloads are
upgraded in :func:`upgrade` before validation, so the pipeline only ever sees the newest shape.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

import orjson
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from schemas.limits import MAX_ATTACHMENTS, MAX_CLOCK_AHEAD, MAX_EVENT_BYTES, MAX_TEXT_CHARS

SCHEMA_VERSION = 1

Channel = Literal["livechat", "messenger", "telegram", "slack", "web"]
CHANNELS: tuple[str, ...] = get_args(Channel)


def _to_utc_ms(value: datetime) -> datetime:
    """Event times are compared across channels: keep them in UTC, to the millisecond."""
    value = value.astimezone(UTC)
    excess = value.microsecond % 1000
    return value.replace(microsecond=value.microsecond - excess) if excess else value


UtcTime = Annotated[AwareDatetime, Field(description="ISO 8601 with a time zone; stored in UTC, ms precision"),
                    AfterValidator(_to_utc_ms)]
BotId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description="the tenant")]
UserId = Annotated[str, Field(min_length=3, max_length=300, pattern=r"^[a-z]+:.+$",
                              description="'<channel>:<the channel's own user id>'")]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def utc_now() -> datetime:
    return _to_utc_ms(datetime.now(UTC))


def user_id_for(channel: str, channel_user_id: str | int) -> str:
    return f"{channel}:{channel_user_id}"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(min_length=1, max_length=300,
                          description="idempotency key: the platform's own id where it has one")
    bot_id: BotId
    user_id: UserId
    channel: Channel
    occurred_at: UtcTime
    received_at: UtcTime = Field(default_factory=utc_now)

    @model_validator(mode="before")
    @classmethod
    def _channel_from_user_id(cls, data: Any) -> Any:
        """Admin events name only the user: the channel is the user id's prefix."""
        if isinstance(data, dict) and "channel" not in data and isinstance(data.get("user_id"), str):
            data = {**data, "channel": data["user_id"].split(":", 1)[0]}
        return data

    @model_validator(mode="after")
    def _user_belongs_to_channel(self) -> _Event:
        if not self.user_id.startswith(f"{self.channel}:"):
            raise ValueError(f"user_id must start with '{self.channel}:' (the event's channel), "
                             f"got {self.user_id!r}")
        return self

    @model_validator(mode="after")
    def _not_far_in_the_future(self) -> _Event:
        """A clock can be off by minutes, not by a day: a `date` of year 9999 would pin the user first by
        last seen for ever."""
        if self.occurred_at > self.received_at + MAX_CLOCK_AHEAD:
            raise ValueError(f"occurred_at {self.occurred_at.isoformat()} is more than "
                             f"{MAX_CLOCK_AHEAD.total_seconds() / 3600:g} hours after it was received")
        return self

    @property
    def is_interaction(self) -> bool:
        """What the user does opens and extends sessions; nothing else does."""
        return False


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["image", "video", "audio", "file", "sticker", "location", "other"]
    url: str | None = Field(default=None, max_length=4096)
    name: str | None = Field(default=None, max_length=1024)


class Message(_Event):
    kind: Literal["message"] = "message"
    direction: Literal["inbound", "outbound"]
    text: Text = ""
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=MAX_ATTACHMENTS)

    @property
    def is_interaction(self) -> bool:
        return self.direction == "inbound"


class ButtonClick(_Event):
    """A button the user pressed: a URL button, or a postback/callback one."""

    kind: Literal["button_click"] = "button_click"
    button_type: Literal["url", "postback"]
    title: Text = ""
    url: str | None = Field(default=None, max_length=4096)
    payload: Text | None = None

    @property
    def is_interaction(self) -> bool:
        return True


class Profile(BaseModel):
    """What a platform tells about the user; a missing or empty field means 'unknown'."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=1024)
    email: str | None = Field(default=None, max_length=1024)
    country: str | None = Field(default=None, max_length=256)
    city: str | None = Field(default=None, max_length=256)
    region: str | None = Field(default=None, max_length=256)
    language: str | None = Field(default=None, max_length=64)
    referrer: str | None = Field(default=None, max_length=4096)
    ip: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    integration: str | None = Field(default=None, max_length=256)
    source: str | None = Field(default=None, max_length=4096, description="URL the chat started from")
    gender: str | None = Field(default=None, max_length=64)
    username: str | None = Field(default=None, max_length=256)
    avatar: str | None = Field(default=None, max_length=4096)
    external_user_id: str | None = Field(default=None, max_length=256)

    @field_validator("ip")
    @classmethod
    def _an_ip_address(cls, value: str | None) -> str | None:
        """Typed: an IPv4 or IPv6 address, as ipaddress writes it (anything else would be shown as sent)."""
        if not value:
            return value
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"expected an IP address like 192.0.2.44 (got {value[:80]!r})") from None

    @field_validator("avatar", "source")
    @classmethod
    def _a_web_address(cls, value: str | None) -> str | None:
        """Typed: an http(s) URL, so a page can link it (a javascript: or data: URL never gets in)."""
        if not value:
            return value
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected an http(s) URL (got {value[:80]!r})")
        return value.strip()

    def known(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


PROFILE_FIELDS: tuple[str, ...] = tuple(Profile.model_fields)


class ProfileUpdate(_Event):
    kind: Literal["profile_update"] = "profile_update"
    profile: Profile


class _AdminEvent(_Event):
    actor: str | None = Field(default=None, max_length=256, description="who did it, for the audit trail")


Name = Annotated[str, Field(min_length=1, max_length=256)]


class TagAdded(_AdminEvent):
    kind: Literal["tag_added"] = "tag_added"
    tag: Name


class TagRemoved(_AdminEvent):
    kind: Literal["tag_removed"] = "tag_removed"
    tag: Name


class AttributeSet(_AdminEvent):
    kind: Literal["attribute_set"] = "attribute_set"
    key: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]
    value: Annotated[str, Field(max_length=4096)]


class AttributeRemoved(_AdminEvent):
    kind: Literal["attribute_removed"] = "attribute_removed"
    key: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]


class SegmentAdded(_AdminEvent):
    kind: Literal["segment_added"] = "segment_added"
    segment: Name


class SegmentRemoved(_AdminEvent):
    kind: Literal["segment_removed"] = "segment_removed"
    segment: Name


class NameEdited(_AdminEvent):
    kind: Literal["name_edited"] = "name_edited"
    name: Annotated[str, Field(max_length=1024)]


class EmailEdited(_AdminEvent):
    kind: Literal["email_edited"] = "email_edited"
    email: Annotated[str, Field(max_length=1024)]


class UserBanned(_AdminEvent):
    kind: Literal["user_banned"] = "user_banned"


class UserUnbanned(_AdminEvent):
    kind: Literal["user_unbanned"] = "user_unbanned"


class UserDeleted(_AdminEvent):
    kind: Literal["user_deleted"] = "user_deleted"


Event = Annotated[
    Message | ButtonClick | ProfileUpdate | TagAdded | TagRemoved | AttributeSet | AttributeRemoved
    | SegmentAdded | SegmentRemoved | NameEdited | EmailEdited | UserBanned | UserUnbanned | UserDeleted,
    Field(discriminator="kind"),
]
ADMIN_EVENTS = (TagAdded, TagRemoved, AttributeSet, AttributeRemoved, SegmentAdded, SegmentRemoved,
                NameEdited, EmailEdited, UserBanned, UserUnbanned, UserDeleted)
EVENT_KINDS: tuple[str, ...] = tuple(
    m.model_fields["kind"].default for m in (Message, ButtonClick, ProfileUpdate, *ADMIN_EVENTS))

_adapter: TypeAdapter[Event] = TypeAdapter(Event)


class InvalidEvent(ValueError):
    """A payload that is not a canonical event; ``problems`` name field, expectation and input."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class EventTooLarge(InvalidEvent):
    """An event over a size limit (a text too long, an event too large for Kafka): answered 413."""


SIZE_ERRORS = frozenset({"string_too_long", "too_long"})


def invalid(error: ValidationError) -> InvalidEvent:
    """The InvalidEvent for a refused payload; EventTooLarge when a size limit is among the reasons."""
    problems = describe(error)
    too_large = any(e["type"] in SIZE_ERRORS for e in error.errors(include_url=False))
    return (EventTooLarge if too_large else InvalidEvent)(problems)


def describe(error: ValidationError) -> list[str]:
    """Pydantic's errors as sentences a user can act on: which field, what was expected, what came."""
    problems = []
    for e in error.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "event"
        message = e["msg"].removeprefix("Value error, ")
        got = e.get("input")
        if e["type"] == "missing":
            problems.append(f"{where}: field required")
        elif isinstance(got, dict):  # a whole-object rule: the message says what is wrong
            problems.append(f"{where}: {message}")
        else:
            shown = repr(got)
            problems.append(f"{where}: {message} (got {shown[:77] + '...' if len(shown) > 80 else shown})")
    return problems


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older payload to the current schema version (version 1 is the first)."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise InvalidEvent([f"schema_version: unsupported version (got {version!r}, "
                            f"this build reads {SCHEMA_VERSION})"])
    return data


def parse_event(data: bytes | str | dict[str, Any]) -> Event:
    if isinstance(data, (bytes, str)):   # a tuple: isinstance with a union is slower, and this runs per event
        try:
            data = orjson.loads(data)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidEvent([f"body: not valid JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise InvalidEvent([f"event: expected a JSON object (got {type(data).__name__})"])
    try:
        return _adapter.validate_python(upgrade(data))
    except ValidationError as e:
        raise invalid(e) from None


def to_json(event: Event) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def to_checked_json(events: list[Event]) -> list[bytes]:
    """Every event as JSON, or EventTooLarge naming each one over MAX_EVENT_BYTES (then none is sent)."""
    encoded = [to_json(e) for e in events]
    problems = [f"event {e.event_id!r}: {len(data):,} bytes as JSON, over the limit of {MAX_EVENT_BYTES:,} "
                f"bytes per event" for e, data in zip(events, encoded) if len(data) > MAX_EVENT_BYTES]
    if problems:
        raise EventTooLarge(problems)
    return encoded


def event_json_schema() -> dict[str, Any]:
    return _adapter.json_schema()
