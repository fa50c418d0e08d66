"""Sessions on an inactivity window, by event time, with a grace period for late events.

Configuration (:class:`SessionConfig`) + a small per-user state (:class:`SessionState`) + pure
logic (:func:`add`), after bytewax's ``SessionWindower``. The caller passes the config on every
call, so a bot's window can change at run time; the state never stores it.

Rules (DESIGN.md, "Users' numbers"):

* Only interactions (inbound messages, button clicks) are fed here; the caller filters.
* A session is a maximal run of interactions in which no gap between consecutive event times
  exceeds the window; a gap of *exactly* the window stays in the session. Duration is
  last − first event time (a one-event session lasts 0 s).
* Session id = the ``event_id`` of the session's earliest event (ordered by time, then id).
  When a late event lands before a session's first event, or bridges two sessions, the merged
  session takes the id of the earliest event of all; the ids it replaces are reported in
  :attr:`SessionChange.removed` so the sink deletes those rows. Ids are unique per user only:
  the sink keys session rows by (bot_id, user_id, id).
* Watermark = the latest interaction time seen. Sessions ending before
  ``watermark − grace − window`` can no longer be touched by an event within the grace: they
  are *closed* and kept only as totals (count and milliseconds), so the state stays small
  (at most about (grace + window) / window open sessions).
* Law: for any arrival order in which no event is later than ``grace`` behind the watermark,
  the session rows (upserted minus removed) and totals equal :func:`sessionize` of the same
  events sorted by time.
* Too-late events (more than ``grace`` behind the watermark) are never dropped: they are
  placed exactly like in-grace events among the sessions still open — joining or bridging any
  open session within the window, otherwise forming a new session of their own (usually closed
  at once, still reported as upserted). Closed sessions are never reopened, so a too-late event
  next to a closed session counts as an extra session and its gap is not added to time spent;
  ``chatlens rebuild`` recomputes exactly.
* A window change applies from the next event on: open sessions are neither split nor joined
  until an event touches them.

Sentiment is carried as integer millionths so merging sessions in any order gives the same sum
(float addition is not associative; the law above is checked with exact equality).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pipeline.core.frozen import evolve, make
from schemas.events import ButtonClick, Message

DEFAULT_WINDOW = timedelta(minutes=10)
DEFAULT_GRACE = timedelta(hours=24)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MICROS = 1_000_000


def to_ms(at: datetime) -> int:
    """Epoch milliseconds, exact (event times are UTC, ms precision)."""
    return (at - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def to_micros(score: float) -> int:
    """A compound sentiment score in [-1, 1] as integer millionths."""
    if not -1.0 <= score <= 1.0:
        raise ValueError(f"sentiment: expected a compound score in [-1, 1], got {score!r}")
    return round(score * MICROS)


@dataclass(frozen=True)
class SessionConfig:
    """A bot's session settings: inactivity window and grace for late events."""

    window: timedelta = DEFAULT_WINDOW
    grace: timedelta = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError(f"window: expected a positive duration, got {self.window}")
        if self.grace < timedelta(0):
            raise ValueError(f"grace: expected a duration >= 0, got {self.grace}")

    @functools.cached_property   # asked several times per event; the config is frozen
    def window_ms(self) -> int:
        return self.window // _MS

    @functools.cached_property
    def grace_ms(self) -> int:
        return self.grace // _MS


@dataclass(frozen=True)
class Hit:
    """One interaction as the sessionizer sees it."""

    event_id: str
    at_ms: int
    kind: Literal["message", "click"]
    sentiment_micros: int | None = None

    @classmethod
    def from_event(cls, event: Message | ButtonClick, sentiment: float | None = None, at_ms: int | None = None) -> Hit:
        """`at_ms`: the event's time in ms when the caller has it already."""
        if not event.is_interaction:
            raise ValueError(f"{event.kind} {event.event_id!r} is not an interaction")
        kind: Literal["message", "click"] = "message" if isinstance(event, Message) else "click"
        micros = to_micros(sentiment) if kind == "message" and sentiment is not None else None
        return make(cls, event_id=event.event_id, at_ms=to_ms(event.occurred_at) if at_ms is None else at_ms,
                    kind=kind, sentiment_micros=micros)


@dataclass(frozen=True)
class Session:
    """Mergeable stats of one session; times are epoch ms, sentiment in millionths."""

    id: str
    start_ms: int
    end_ms: int
    interactions: int = 1
    messages: int = 0
    clicks: int = 0
    sentiment_micros: int = 0
    sentiment_count: int = 0

    @classmethod
    def of(cls, hit: Hit) -> Session:
        scored = hit.sentiment_micros is not None
        return make(cls, id=hit.event_id, start_ms=hit.at_ms, end_ms=hit.at_ms, interactions=1,
                    messages=int(hit.kind == "message"), clicks=int(hit.kind == "click"),
                    sentiment_micros=hit.sentiment_micros or 0, sentiment_count=int(scored))

    @property
    def start(self) -> datetime:
        return from_ms(self.start_ms)

    @property
    def end(self) -> datetime:
        return from_ms(self.end_ms)

    @property
    def duration_seconds(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    @property
    def sentiment_sum(self) -> float:
        return self.sentiment_micros / MICROS

    @property
    def avg_sentiment(self) -> float | None:
        if not self.sentiment_count:
            return None
        return self.sentiment_micros / (self.sentiment_count * MICROS)

    def touches(self, at_ms: int, window_ms: int) -> bool:
        """Whether an interaction at ``at_ms`` belongs to this session (gap <= window)."""
        return self.start_ms - window_ms <= at_ms <= self.end_ms + window_ms

    def plus(self, hit: Hit) -> Session:
        """`Session.of(hit).merge(self)` in one step (the usual case: a hit extends the latest session)."""
        first = min((self.start_ms, self.id), (hit.at_ms, hit.event_id))
        micros = hit.sentiment_micros
        return make(Session, id=first[1], start_ms=first[0], end_ms=max(self.end_ms, hit.at_ms),
                    interactions=self.interactions + 1, messages=self.messages + (hit.kind == "message"),
                    clicks=self.clicks + (hit.kind == "click"), sentiment_micros=self.sentiment_micros + (micros or 0),
                    sentiment_count=self.sentiment_count + (micros is not None))

    def merge(self, other: Session) -> Session:
        first = min((self.start_ms, self.id), (other.start_ms, other.id))
        return make(Session, id=first[1], start_ms=first[0], end_ms=max(self.end_ms, other.end_ms),
                    interactions=self.interactions + other.interactions, messages=self.messages + other.messages,
                    clicks=self.clicks + other.clicks, sentiment_micros=self.sentiment_micros + other.sentiment_micros,
                    sentiment_count=self.sentiment_count + other.sentiment_count)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        return cls(**data)


@dataclass(frozen=True)
class SessionState:
    """One user's sessions: the open ones (sorted by start) and totals of the closed ones."""

    open: tuple[Session, ...] = ()
    closed_sessions: int = 0
    closed_ms: int = 0
    watermark_ms: int | None = None

    @property
    def count(self) -> int:
        return self.closed_sessions + len(self.open)

    @property
    def time_spent_ms(self) -> int:
        return self.closed_ms + sum(s.end_ms - s.start_ms for s in self.open)

    @property
    def last(self) -> Session | None:
        """The latest session; it holds the watermark, so it is always open."""
        return self.open[-1] if self.open else None

    def to_dict(self) -> dict[str, Any]:
        return {"open": [s.to_dict() for s in self.open], "closed_sessions": self.closed_sessions,
                "closed_ms": self.closed_ms, "watermark_ms": self.watermark_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionState:
        return cls(tuple(Session.from_dict(s) for s in data["open"]), data["closed_sessions"],
                   data["closed_ms"], data["watermark_ms"])


@dataclass(frozen=True)
class SessionChange:
    """What one event did to the session rows: the row to upsert and the ids to delete."""

    upserted: Session | None = None
    removed: tuple[str, ...] = ()


NO_CHANGE = SessionChange()


def add(state: SessionState, hit: Hit, config: SessionConfig) -> tuple[SessionState, SessionChange]:
    """Place one interaction: extend a session, open one, or merge the sessions it bridges.

    Open sessions are sorted by start and never overlap (a hit that touches two merges them), so their ends
    are in order too and a hit touches a run of neighbours. An in-order hit, the usual one, touches the last
    session or none: it is placed without looking at the others."""
    window, at, sessions = config.window_ms, hit.at_ms, state.open
    if not sessions or at > sessions[-1].end_ms + window:        # after every open session: a new one
        merged, touched = Session.of(hit), ()
        sessions = (*sessions, merged)
    elif at >= sessions[-1].start_ms - window and (len(sessions) == 1 or at > sessions[-2].end_ms + window):
        touched = (sessions[-1],)                                   # within the last session's reach only
        merged = sessions[-1].plus(hit)
        sessions = (*sessions[:-1], merged)
    else:
        touched, kept = _touched(sessions, at, window)
        merged = Session.of(hit)
        for s in touched:
            merged = merged.merge(s)
        sessions = tuple(sorted([*kept, merged], key=lambda s: (s.start_ms, s.id))) if kept else (merged,)
    watermark = at if state.watermark_ms is None else max(state.watermark_ms, at)
    removed = tuple(s.id for s in touched if s.id != merged.id) if touched else ()
    return _close(make(SessionState, open=sessions, closed_sessions=state.closed_sessions,
                       closed_ms=state.closed_ms, watermark_ms=watermark), config), \
        make(SessionChange, upserted=merged, removed=removed)


def _touched(sessions: tuple[Session, ...], at_ms: int, window_ms: int) -> tuple[list[Session], list[Session]]:
    touched: list[Session] = []
    kept: list[Session] = []
    for s in sessions:
        (touched if s.touches(at_ms, window_ms) else kept).append(s)
    return touched, kept


def _close(state: SessionState, config: SessionConfig) -> SessionState:
    """Fold sessions no in-grace event can reach any more into the totals."""
    assert state.watermark_ms is not None
    horizon = state.watermark_ms - config.grace_ms - config.window_ms
    if not state.open or state.open[0].end_ms >= horizon:   # ends are in order too: the first ends first
        return state
    closing = [s for s in state.open if s.end_ms < horizon]
    return evolve(state, open=tuple(s for s in state.open if s.end_ms >= horizon),
                   closed_sessions=state.closed_sessions + len(closing),
                   closed_ms=state.closed_ms + sum(s.end_ms - s.start_ms for s in closing))


def sessionize(hits: Iterable[Hit], window: timedelta) -> list[Session]:
    """The batch path: sort by time (then id) and cut wherever a gap exceeds the window."""
    window_ms = SessionConfig(window=window).window_ms
    sessions: list[Session] = []
    for hit in sorted(hits, key=lambda h: (h.at_ms, h.event_id)):
        if sessions and hit.at_ms - sessions[-1].end_ms <= window_ms:
            sessions[-1] = sessions[-1].merge(Session.of(hit))
        else:
            sessions.append(Session.of(hit))
    return sessions
