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
from pipeline.core.projection import Projected, Row, Score, event_row, project, user_row
from pipeline.kafka import topics
from pipeline.kafka.codecs import encode_state
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
    forgotten: list[tuple[Ref, bytes]] = field(default_factory=list)  # (a record of the user, id-index key) of
    # every id the new states no longer remember: the index must have them before the states are written

    @property
    def rows(self) -> list[Row]:
        return [row for rows in self.rows_of.values() for row in rows]


class BatchFolder(Generic[Ref]):
    """Folds records (ref, JSON value) one at a time, in order; `finish` gives the batch's outcome.

    One record at a time so that the caller can let its event loop breathe between records (a long
    text takes milliseconds to score). `load(ref, key)` reads a user's state once per batch;
    `indexed(ref, key)` whether the id index holds a key of topics.folded_key (asked for late events only).
    An id goes into the index when the user's state forgets it, so in-order traffic of users whose recent
    ids fit in their state writes nothing there.
    """

    def __init__(self, load: Callable[[Ref, bytes], Projected], *, score: Score,
                 window_for: Callable[[str], timedelta], grace: timedelta, max_state_bytes: int = MAX_STATE_BYTES,
                 indexed: Callable[[Ref, bytes], bool] = lambda ref, key: False):
        self.load, self.score, self.window_for, self.grace = load, score, window_for, grace
        self.max_state_bytes, self.indexed = max_state_bytes, indexed
        self._folded: set[tuple[bytes, str]] = set()   # (user key, event id) of the events folded in this batch
        self.refused: list[Refused[Ref]] = []
        self._current: dict[bytes, Projected] = {}
        self._loaded: dict[bytes, Projected] = {}
        self._rows: dict[bytes, list[Row]] = {}
        self._taken: dict[bytes, list[tuple[Ref, bytes, Event]]] = {}  # user key -> (ref, value, event)

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
            folded, new_rows = project(before, event, score=self.score, grace=self.grace,
                                       window=self.window_for(event.bot_id), users_row=False,
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
            self._rows.setdefault(key, []).extend((*new_rows, event_row(event, folded.version, value.decode())))
        self._taken.setdefault(key, []).append((ref, value, event))
        self._folded.add((key, event.event_id))

    def _known(self, key: bytes, event: Event, ref: Ref) -> bool:
        """Folded before, though the state at hand forgot it: in this batch, in the state the batch began
        with (forgotten during the batch, indexed only when it ends), or in the index."""
        if (key, event.event_id) in self._folded or event.event_id in self._loaded[key].state.seen:
            return True
        return self.indexed(ref, topics.folded_key(event.bot_id, event.user_id, event.event_id))

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
            last, state = taken[-1][0], projected.state
            remembered = self._loaded[key].state.seen.keys() | {event.event_id for _, _, event in taken}
            batch.forgotten += [(last, topics.folded_key(state.bot_id, state.user_id, event_id))
                                for event_id in sorted(remembered - state.seen.keys())]
            batch.states[key] = (last, encoded)
            batch.rows_of[key] = [*self._rows.get(key, []), user_row(snapshot(state), projected.version)]
        return batch


def fold_batch(records: Iterable[tuple[Ref, bytes]], load: Callable[[Ref, bytes], Projected], *, score: Score,
               window_for: Callable[[str], timedelta], grace: timedelta, max_state_bytes: int = MAX_STATE_BYTES,
               indexed: Callable[[Ref, bytes], bool] = lambda ref, key: False) -> FoldedBatch[Ref]:
    """The whole batch at once (tests, tools)."""
    folder = BatchFolder(load, score=score, window_for=window_for, grace=grace, max_state_bytes=max_state_bytes,
                         indexed=indexed)
    for ref, value in records:
        folder.add(ref, value)
    return folder.finish()


class StateTooLarge(ValueError):
    pass
