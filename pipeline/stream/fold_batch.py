"""One batch of the events topic folded per user: the states to keep, the rows to write, what is refused.

Pure (values in, values out; it uses the users table's codec to measure a state): the projection agent is a
loop around it. Nothing in a batch can stop the stream: an event
that does not parse, whose fold raises, or that would grow its user's state past MAX_STATE_BYTES
is refused with its reason (the agent dead-letters it) and changes nothing; the rest of the batch,
and of the partition, goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from pipeline.core.aggregate import snapshot
from pipeline.core.projection import (Projected, Row, Score, derived_rows, event_row, fold_event, session_row,
                                      user_row)
from pipeline.core.sessionizer import Session, to_ms
from pipeline.kafka import topics
from pipeline.kafka.codecs import encode_state
from pipeline.stream import id_index
from schemas.events import (AttributeSet, EmailEdited, Event, InvalidEvent, NameEdited, ProfileUpdate, SegmentAdded,
                            TagAdded, parse_event)
from schemas.limits import MAX_RECORD_BYTES, MAX_STATE_BYTES

Ref = TypeVar("Ref")  # what the caller knows a record by (a Faust event); handed back, never looked into
GROWS_STATE = (ProfileUpdate, AttributeSet, TagAdded, SegmentAdded, NameEdited, EmailEdited)


@dataclass(frozen=True)
class Refused(Generic[Ref]):
    ref: Ref
    bot_id: str | None
    value: bytes
    reasons: list[str]


@dataclass
class FoldedBatch(Generic[Ref]):
    states: dict[bytes, tuple[Ref, bytes]] = field(default_factory=dict)  # user key -> (its last record, encoded
    # state), for the users that changed
    rows_of: dict[bytes, list[Row]] = field(default_factory=dict)  # user key -> its rows, raw events included
    refused: list[Refused[Ref]] = field(default_factory=list)
    index: list[tuple[Ref, bytes, bytes]] = field(default_factory=list)  # (a record of the user, key, value):
    # the id-index records of the ids the new states no longer remember, to be written before the states

    @property
    def rows(self) -> list[Row]:
        return [row for rows in self.rows_of.values() for row in rows]


class BatchFolder(Generic[Ref]):
    """Folds records (ref, JSON value) one at a time, in order; `finish` gives the batch's outcome.

    One record at a time so that the caller can let its event loop breathe between records (a long
    text takes milliseconds to score). `load(ref, key)` reads a user's state once per batch; `read(ref, key)`
    a raw record of the id index (pipeline.stream.id_index), for late events and for the index records the
    batch writes. An id goes into the index when the user's state forgets it, so in-order traffic of users
    whose recent ids fit in their state writes nothing there.
    """

    def __init__(self, load: Callable[[Ref, bytes], Projected], *, score: Score,
                 window_for: Callable[[str], timedelta], grace: timedelta, max_state_bytes: int = MAX_STATE_BYTES,
                 read: Callable[[Ref, bytes], bytes | None] = lambda ref, key: None):
        self.load, self.score, self.window_for, self.grace = load, score, window_for, grace
        self.max_state_bytes, self.read = max_state_bytes, read
        self._folded: set[tuple[bytes, str]] = set()   # (user key, event id) of the events folded in this batch
        self.refused: list[Refused[Ref]] = []
        self._current: dict[bytes, Projected] = {}
        self._loaded: dict[bytes, Projected] = {}
        self._rows: dict[bytes, list[Row]] = {}
        self._taken: dict[bytes, list[tuple[Ref, bytes, Event]]] = {}  # user key -> (ref, value, event)
        # user key -> session id -> (the session as last upserted, that version): one row per session and batch
        # where a busy user's every message re-upserted its session (the newest version wins in the sink anyway)
        self._sessions: dict[bytes, dict[str, tuple[Session, int]]] = {}

    def add(self, ref: Ref, value: bytes) -> None:
        try:
            event = parse_event(value)
        except InvalidEvent as e:
            self.refused.append(Refused(ref, None, value, e.problems))
            return
        key = topics.event_key(event)
        if key not in self._current:
            self._current[key] = self._loaded[key] = self.load(ref, key)
        before = self._current[key]
        try:
            folded, sentiment, change = fold_event(before, event, score=self.score, grace=self.grace,
                                                   window=self.window_for(event.bot_id),
                                                   known=lambda event_id: self._known(key, event, ref))
            if isinstance(event, GROWS_STATE) and folded is not before \
                    and len(encode_state(folded)) > self.max_state_bytes:
                raise StateTooLarge(f"the user's state would exceed {self.max_state_bytes:,} bytes "
                                    "(too many or too long attributes, tags, segments or profile values)")
        except Exception as e:  # noqa: BLE001 - a poison event is refused, the partition goes on
            self.refused.append(Refused(ref, event.bot_id, value, [f"not processed: {type(e).__name__}: {e}"]))
            return
        self._current[key] = folded
        if folded is not before:  # a new event: stored raw (as it came) beside its rows
            rows = self._rows.setdefault(key, [])
            rows += derived_rows(event, sentiment, change, folded.version)
            rows.append(event_row(event, folded.version, value.decode()))
            if change.upserted is not None:
                self._sessions.setdefault(key, {})[change.upserted.id] = (change.upserted, folded.version)
        self._taken.setdefault(key, []).append((ref, value, event))
        self._folded.add((key, event.event_id))

    def _known(self, key: bytes, event: Event, ref: Ref) -> bool:
        """Folded before, though the state at hand forgot it: in this batch, in the state the batch began
        with (forgotten during the batch, indexed only when it ends), or in the index."""
        if (key, event.event_id) in self._folded or event.event_id in self._loaded[key].state.seen:
            return True
        return id_index.holds(lambda key: self.read(ref, key), event.bot_id, event.user_id, event.event_id,
                              to_ms(event.occurred_at))

    def finish(self) -> FoldedBatch[Ref]:
        """The users row of each changed user once (its newest), after the rows its events led to."""
        batch: FoldedBatch[Ref] = FoldedBatch(refused=self.refused)
        for key, projected in self._current.items():
            if projected is self._loaded[key]:
                continue
            encoded = encode_state(projected)
            taken = self._taken[key]
            if len(encoded) > MAX_RECORD_BYTES:  # only a state grown by many events of one batch gets here
                batch.refused += [Refused(ref, event.bot_id, value, [f"not processed: the user's state would "
                                                                     f"exceed {MAX_RECORD_BYTES:,} bytes"])
                                  for ref, value, event in taken]
                continue
            last, state, before = taken[-1][0], projected.state, self._loaded[key].state.seen
            forgotten = (before.keys() | {event.event_id for _, _, event in taken}) - state.seen.keys()
            if forgotten:
                # an id's time: where the batch began remembering it, else its first copy in the batch (the one
                # folded, or one the index had: a copy's time is the original's)
                times = {event.event_id: event.occurred_at for _, _, event in reversed(taken)}
                at_ms = {i: before[i] if i in before else to_ms(times[i]) for i in forgotten}
                batch.index += [(last, *record) for record in
                                id_index.records(lambda k: self.read(last, k), state.bot_id, state.user_id, at_ms)]
            batch.states[key] = (last, encoded)
            sessions = [session_row(state.bot_id, state.user_id, session, version)
                        for session, version in self._sessions.get(key, {}).values()]
            batch.rows_of[key] = [*self._rows.get(key, []), *sessions, user_row(snapshot(state), projected.version)]
        return batch


def fold_batch(records: Iterable[tuple[Ref, bytes]], load: Callable[[Ref, bytes], Projected], *, score: Score,
               window_for: Callable[[str], timedelta], grace: timedelta, max_state_bytes: int = MAX_STATE_BYTES,
               read: Callable[[Ref, bytes], bytes | None] = lambda ref, key: None) -> FoldedBatch[Ref]:
    """The whole batch at once (tests, tools)."""
    folder = BatchFolder(load, score=score, window_for=window_for, grace=grace, max_state_bytes=max_state_bytes,
                         read=read)
    for ref, value in records:
        folder.add(ref, value)
    return folder.finish()


class StateTooLarge(ValueError):
    pass
