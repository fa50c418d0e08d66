"""The user aggregate: one user's events folded into the numbers of the Users page.

A frozen :class:`UserState`, one small function per event kind, folded by :func:`apply` (the
stream) and :func:`rebuild` (the batch path: sort by event time, then fold). Sentiment is an
input: the caller scores inbound messages (see :func:`message_score`).

* Order: every "newest wins" field (profile fields, name/email edits, custom attributes, tags,
  segments, banned) keeps its value with a stamp (event time, event_id) and the larger stamp
  wins, so arrival order does not matter. Profile updates never overwrite with an empty/None
  value; an admin ``name_edited``/``email_edited`` to "" clears the field (it is a deliberate edit).
* Idempotency: an event whose ``event_id`` was already applied changes nothing, however old it is
  and however late its copy comes. The state remembers the ids of its recent events: those within
  ``grace`` of the watermark (latest event time seen, any kind), at most :data:`DEDUPE_LIMIT` (the
  newest by event time). Older ids are forgotten, and ``forgotten_ms`` is the latest event time
  among them: an event at or before it that the state does not remember is looked up with
  ``known(event_id)``, the caller's durable index of every id it folded (the stream's table).
  So the index is read only for late events, which are rare. The first applied copy of an id wins.
* Deletion (``user_deleted`` at time d) erases the user: everything applied so far is reset —
  including events timed after d that happened to arrive before the deletion (erasure wins) —
  and later-arriving events timed at or before d are ignored. Events timed after d are folded
  into a fresh state: an interaction or profile update after d brings the user back as a new
  user (``is_deleted`` false again, first_seen restarts); admin events and bot replies after d
  are kept but do not by themselves bring the user back.
* Too-late events (more than ``grace`` behind the watermark) still count in every total; for
  their effect on sessions see :mod:`pipeline.core.sessionizer`.
"""

from __future__ import annotations

import functools
import heapq
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.core.frozen import evolve
from pipeline.core.sessionizer import (MICROS, NO_CHANGE, Hit, SessionChange, SessionConfig, SessionState,
                                  add, from_ms, to_ms)
from schemas.events import (PROFILE_FIELDS, AttributeRemoved, AttributeSet, ButtonClick, EmailEdited,
                            Event, Message, NameEdited, ProfileUpdate, SegmentAdded, SegmentRemoved,
                            TagAdded, TagRemoved, UserBanned, UserDeleted, UserUnbanned)

DEDUPE_LIMIT = 256  # event ids remembered in a user's state (the newest); older ones: the caller's index
CAPTURE_LIMIT = 50  # recent profile updates kept to describe the last session


@dataclass(frozen=True)
class Stamped:
    """A newest-wins value; ``None``/``False`` values are tombstones of removals."""

    value: Any
    at_ms: int
    event_id: str

    @property
    def stamp(self) -> tuple[int, str]:
        return (self.at_ms, self.event_id)


def _put(registers: Mapping[str, Stamped], key: str, new: Stamped) -> dict[str, Stamped]:
    old = registers.get(key)
    return {**registers, key: new} if old is None or new.stamp > old.stamp else dict(registers)


@dataclass(frozen=True)
class UserState:
    """Times are epoch ms (UTC); sentiment is integer millionths (exact under any order)."""

    bot_id: str | None = None
    user_id: str | None = None
    messages_sent: int = 0
    clicks: int = 0
    sentiment_micros: int = 0
    sentiment_count: int = 0
    first_seen_ms: int | None = None
    last_seen_ms: int | None = None
    last_message_ms: int | None = None
    channels: frozenset[str] = frozenset()
    sessions: SessionState = SessionState()
    profile: Mapping[str, Stamped] = field(default_factory=dict)
    attributes: Mapping[str, Stamped] = field(default_factory=dict)
    tags: Mapping[str, Stamped] = field(default_factory=dict)
    segments: Mapping[str, Stamped] = field(default_factory=dict)
    banned: Stamped | None = None
    captures: tuple[Stamped, ...] = ()  # recent profile updates: value = their known fields
    last_session_profile: Mapping[str, str] = field(default_factory=dict)
    deleted_at_ms: int | None = None
    revived: bool = False
    seen: Mapping[str, int] = field(default_factory=dict)  # event_id -> its event time, for recent events
    watermark_ms: int | None = None
    forgotten_ms: int | None = None  # the latest event time of an id no longer in `seen`

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at_ms is not None and not self.revived

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (for the Faust table changelog)."""
        data = dict(self.__dict__)
        data["channels"] = sorted(self.channels)
        data["sessions"] = self.sessions.to_dict()
        for name in ("profile", "attributes", "tags", "segments"):
            data[name] = {k: [s.value, s.at_ms, s.event_id] for k, s in data[name].items()}
        data["banned"] = None if self.banned is None else [*self.banned.__dict__.values()]
        data["captures"] = [[c.value, c.at_ms, c.event_id] for c in self.captures]
        data["last_session_profile"] = dict(self.last_session_profile)
        data["seen"] = dict(self.seen)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserState:
        data = dict(data)
        data["channels"] = frozenset(data["channels"])
        data["sessions"] = SessionState.from_dict(data["sessions"])
        for name in ("profile", "attributes", "tags", "segments"):
            data[name] = {k: Stamped(*v) for k, v in data[name].items()}
        data["banned"] = None if data["banned"] is None else Stamped(*data["banned"])
        data["captures"] = tuple(Stamped(*c) for c in data["captures"])
        return cls(**data)


Handler = Callable[[UserState, Any, int, float | None, SessionConfig], SessionChange]
# A handler changes `state` in place: step hands it a copy of its own that no one else holds yet (one copy
# per event, where a copy per change cost the fold several per event).


def _set(state: UserState, **fields: Any) -> None:
    state.__dict__.update(fields)


def _interaction(state: UserState, hit: Hit, config: SessionConfig) -> SessionChange:
    sessions, change = add(state.sessions, hit, config)
    first = hit.at_ms if state.first_seen_ms is None else min(state.first_seen_ms, hit.at_ms)
    last = hit.at_ms if state.last_seen_ms is None else max(state.last_seen_ms, hit.at_ms)
    state.__dict__.update(sessions=sessions, first_seen_ms=first, last_seen_ms=last)   # _set, inlined where hot
    return change


def _message(state, event: Message, at, sentiment, config):
    if event.direction == "outbound":
        return NO_CHANGE  # bot replies count nowhere
    hit = Hit.from_event(event, sentiment, at)
    last = at if state.last_message_ms is None else max(state.last_message_ms, at)
    state.__dict__.update(messages_sent=state.messages_sent + 1, last_message_ms=last,   # _set, inlined
                          sentiment_micros=state.sentiment_micros + (hit.sentiment_micros or 0),
                          sentiment_count=state.sentiment_count + (hit.sentiment_micros is not None))
    return _interaction(state, hit, config)


def _click(state, event: ButtonClick, at, sentiment, config):
    _set(state, clicks=state.clicks + 1)
    return _interaction(state, Hit.from_event(event, at_ms=at), config)


def _profile_update(state, event: ProfileUpdate, at, sentiment, config):
    known = event.profile.known()
    profile = state.profile
    for name, value in known.items():
        profile = _put(profile, name, Stamped(value, at, event.event_id))
    if known:   # kept in stamp order, so pruning only ever cuts from the front
        capture = Stamped(known, at, event.event_id)
        _set(state, captures=tuple(sorted((*state.captures, capture), key=_STAMP)))
    _set(state, profile=profile)
    return NO_CHANGE


def _edit(field_name: str) -> Handler:
    def edit(state, event, at, sentiment, config):
        _set(state, profile=_put(state.profile, field_name, Stamped(getattr(event, field_name), at, event.event_id)))
        return NO_CHANGE
    return edit


def _register(name: str, key_of: Callable[[Any], str], value_of: Callable[[Any], Any]) -> Handler:
    """Handler for a keyed newest-wins set: tags, segments, custom attributes."""
    def handle(state, event, at, sentiment, config):
        stamped = Stamped(value_of(event), at, event.event_id)
        _set(state, **{name: _put(getattr(state, name), key_of(event), stamped)})
        return NO_CHANGE
    return handle


def _ban(value: bool) -> Handler:
    def handle(state, event, at, sentiment, config):
        new = Stamped(value, at, event.event_id)
        if state.banned is None or state.banned.stamp <= new.stamp:
            _set(state, banned=new)
        return NO_CHANGE
    return handle


def _deleted(state, event: UserDeleted, at, sentiment, config):
    removed = tuple(s.id for s in state.sessions.open)
    kept = {"bot_id": state.bot_id, "user_id": state.user_id, "deleted_at_ms": at, "seen": state.seen,
            "watermark_ms": state.watermark_ms, "forgotten_ms": state.forgotten_ms}
    state.__dict__.update(_FRESH, **kept)
    return SessionChange(removed=removed)


_HANDLERS: dict[type, Handler] = {
    Message: _message,
    ButtonClick: _click,
    ProfileUpdate: _profile_update,
    NameEdited: _edit("name"),
    EmailEdited: _edit("email"),
    TagAdded: _register("tags", lambda e: e.tag, lambda e: True),
    TagRemoved: _register("tags", lambda e: e.tag, lambda e: False),
    SegmentAdded: _register("segments", lambda e: e.segment, lambda e: True),
    SegmentRemoved: _register("segments", lambda e: e.segment, lambda e: False),
    AttributeSet: _register("attributes", lambda e: e.key, lambda e: e.value),
    AttributeRemoved: _register("attributes", lambda e: e.key, lambda e: None),
    UserBanned: _ban(True),
    UserUnbanned: _ban(False),
    UserDeleted: _deleted,
}
_SEEN_ON_A_CHANNEL = (Message, ButtonClick, ProfileUpdate)   # a tuple: isinstance with a union is slower
_FRESH = UserState().__dict__   # a deletion's reset: the fields of a new user (their values are never changed)
_STAMP = operator.attrgetter("stamp")


def nothing_known(event_id: str) -> bool:
    """The id index of a caller that keeps none (the batch path folds distinct events)."""
    return False


def already_applied(state: UserState, event_id: str, at_ms: int, known: Callable[[str], bool]) -> bool:
    """Remembered by the state, or older than what it forgets and in the caller's index."""
    if event_id in state.seen:
        return True
    return state.forgotten_ms is not None and at_ms <= state.forgotten_ms and known(event_id)


def step(state: UserState, event: Event, *, sentiment: float | None, window: timedelta, grace: timedelta,
         known: Callable[[str], bool] = nothing_known) -> tuple[UserState, SessionChange]:
    """Apply one event; also say which session row to upsert and which session ids to delete.

    `known(event_id)`: whether the caller's index holds an id of this user (asked only for late events).
    `state` is left as it is: the event's changes go into one new copy.
    """
    at = to_ms(event.occurred_at)
    if already_applied(state, event.event_id, at, known):
        return state, NO_CHANGE
    config = _config(window, grace)
    watermark = at if state.watermark_ms is None else max(state.watermark_ms, at)
    new = evolve(state, bot_id=event.bot_id, user_id=event.user_id, watermark_ms=watermark,
                 seen={**state.seen, event.event_id: at})
    if state.deleted_at_ms is not None and at <= state.deleted_at_ms:
        return _prune(new, config), NO_CHANGE  # erased, or older than an erasure
    if isinstance(event, _SEEN_ON_A_CHANNEL):
        if event.channel not in state.channels:
            _set(new, channels=state.channels | {event.channel})
        if not state.revived and (event.is_interaction or isinstance(event, ProfileUpdate)):
            _set(new, revived=True)
    change = _HANDLERS[type(event)](new, event, at, sentiment, config)
    return _prune(new, config), change


@functools.lru_cache(maxsize=64)
def _config(window: timedelta, grace: timedelta) -> SessionConfig:
    return SessionConfig(window=window, grace=grace)


def apply(state: UserState, event: Event, *, sentiment: float | None, window: timedelta, grace: timedelta,
          known: Callable[[str], bool] = nothing_known) -> UserState:
    """The fold step: ``sentiment`` is the message's compound score (None if not scored)."""
    return step(state, event, sentiment=sentiment, window=window, grace=grace, known=known)[0]


_REGISTERS = ("attributes", "tags", "segments")


def _prune(state: UserState, config: SessionConfig) -> UserState:
    """Forget what no in-grace event can need; recompute the last session's profile. In place: `state` is
    step's own copy. What is unchanged is not copied (most users have no registers or captures)."""
    assert state.watermark_ms is not None
    horizon = state.watermark_ms - config.grace_ms
    fields = state.__dict__
    fields["seen"], fields["forgotten_ms"] = _recent_ids(state.seen, horizon, state.forgotten_ms)
    for name in _REGISTERS:   # a removed entry is kept only while an in-grace event could still beat it
        registers = fields[name]
        if registers and any(s.value in (None, False) and s.at_ms < horizon for s in registers.values()):
            fields[name] = {k: s for k, s in registers.items() if s.value not in (None, False) or s.at_ms >= horizon}
    if state.captures or state.last_session_profile:
        captures = state.captures
        if captures:   # in stamp order (see _profile_update)
            first_open = state.sessions.open[0].start_ms if state.sessions.open else horizon
            keep_from = min(horizon, first_open) - config.window_ms
            if captures[0].at_ms < keep_from:
                captures = tuple(c for c in captures if c.at_ms >= keep_from)
            fields["captures"] = captures = captures[-CAPTURE_LIMIT:]
        fields["last_session_profile"] = _last_session_profile(state, captures, config.window_ms)
    return state


def _recent_ids(seen: Mapping[str, int], horizon_ms: int,
                forgotten_ms: int | None) -> tuple[Mapping[str, int], int | None]:
    """The ids to keep (within the horizon, the newest DEDUPE_LIMIT) and the latest time of those dropped.

    Per event, so the common cases cost a scan in C: nothing to drop, or one id over the limit."""
    dropped: list[int] = []
    if seen and min(seen.values()) < horizon_ms:
        kept = {k: at for k, at in seen.items() if at >= horizon_ms}
        dropped = [at for at in seen.values() if at < horizon_ms]
    elif len(seen) <= DEDUPE_LIMIT:
        return seen, forgotten_ms   # the common case: step's fresh copy, kept as it is
    else:
        kept = dict(seen)
    excess = len(kept) - DEDUPE_LIMIT
    if excess > 0:
        oldest = [min(kept.items(), key=_TIME_THEN_ID)] if excess == 1 else \
            heapq.nsmallest(excess, kept.items(), key=_TIME_THEN_ID)
        for k, at in oldest:
            del kept[k]
            dropped.append(at)
    if dropped:
        forgotten_ms = max(dropped) if forgotten_ms is None else max(forgotten_ms, *dropped)
    return kept, forgotten_ms


_TIME_THEN_ID = operator.itemgetter(1, 0)  # (event id, time) items ordered by time, then id


def _last_session_profile(state: UserState, captures: tuple[Stamped, ...], window_ms: int) -> dict[str, str]:
    """Profile fields reported within the window around the last session (newest wins)."""
    last = state.sessions.last
    profile: dict[str, str] = {}
    if last is not None:
        for c in captures:
            if last.start_ms - window_ms <= c.at_ms <= last.end_ms + window_ms:
                profile.update(c.value)
    return profile


def message_score(event: Event, score: Callable[[str], float | None]) -> float | None:
    """The sentiment input for ``event``: scored text of inbound messages, else None."""
    if isinstance(event, Message) and event.direction == "inbound" and event.text.strip():
        return score(event.text)
    return None


def rebuild(events: Iterable[Event], *, score: Callable[[str], float | None], window: timedelta,
            grace: timedelta) -> UserState:
    """The batch path (``chatlens rebuild``): sort one user's events by time, then fold."""
    state = UserState()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.event_id)):
        state = apply(state, event, sentiment=message_score(event, score), window=window, grace=grace)
    return state


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else from_ms(ms)


def snapshot(state: UserState) -> dict[str, Any]:
    """The flat user row shared by the ClickHouse ``users`` table and the API (datetimes in UTC)."""
    last = state.sessions.last
    row: dict[str, Any] = {
        "bot_id": state.bot_id, "user_id": state.user_id,
        "sessions": state.sessions.count, "messages_sent": state.messages_sent, "clicks": state.clicks,
        "time_spent_seconds": state.sessions.time_spent_ms / 1000,
        "avg_sentiment": (state.sentiment_micros / (state.sentiment_count * MICROS)
                          if state.sentiment_count else None),
        "first_seen": _time(state.first_seen_ms), "last_seen": _time(state.last_seen_ms),
        "last_message_at": _time(state.last_message_ms), "channels": sorted(state.channels),
    }
    row.update({name: (s.value or None) if (s := state.profile.get(name)) else None
                for name in PROFILE_FIELDS})
    row.update({
        "attributes": {k: s.value for k, s in sorted(state.attributes.items()) if s.value is not None},
        "tags": sorted(k for k, s in state.tags.items() if s.value),
        "segments": sorted(k for k, s in state.segments.items() if s.value),
        "banned": bool(state.banned and state.banned.value), "is_deleted": state.is_deleted,
        "last_session_start": _time(last.start_ms) if last else None,
        "last_session_end": _time(last.end_ms) if last else None,
        "last_session_messages": last.messages if last else 0,
        "last_session_sentiment": last.avg_sentiment if last else None,
        "last_session_profile": dict(state.last_session_profile),
    })
    return row
