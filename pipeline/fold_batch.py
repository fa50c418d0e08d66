"""One batch of the events topic folded per user: the states to keep, the rows to write, what is refused.

Pure: the projection agent is a loop around it. Nothing in a batch can stop the stream: an event
that does not parse, whose fold raises, or that would grow its user's state past MAX_STATE_BYTES
is refused with its reason (the agent dead-letters it) and changes nothing; the rest of the batch,
and of the partition, goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, TypeVar

from pipeline.projection import Projected, Row, Score, encode_state, project
from schemas.events import (AttributeSet, EmailEdited, InvalidEvent, NameEdited, ProfileUpdate, SegmentAdded,
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
    rows: list[Row] = field(default_factory=list)
    refused: list[Refused[Ref]] = field(default_factory=list)


def fold_batch(records: Iterable[tuple[Ref, bytes]], load: Callable[[Ref, bytes], Projected], *, score: Score,
               window_for: Callable[[str], timedelta], grace: timedelta,
               max_state_bytes: int = MAX_STATE_BYTES) -> FoldedBatch[Ref]:
    """Fold every record (ref, JSON value) in order; `load(ref, key)` reads a user's state once per batch."""
    batch: FoldedBatch[Ref] = FoldedBatch()
    current: dict[bytes, Projected] = {}
    loaded: dict[bytes, Projected] = {}
    rows: dict[bytes, list[Row]] = {}
    taken: dict[bytes, list[tuple[Ref, bytes, str]]] = {}
    for ref, value in records:
        try:
            event = parse_event(value)
        except InvalidEvent as e:
            batch.refused.append(Refused(ref, None, value, e.problems))
            continue
        key = f"{event.bot_id}:{event.user_id}".encode()
        if key not in current:
            current[key] = loaded[key] = load(ref, key)
        try:
            folded, new_rows = project(current[key], event, score=score, grace=grace,
                                       window=window_for(event.bot_id))
            if isinstance(event, GROWS_STATE) and new_rows and len(encode_state(folded)) > max_state_bytes:
                raise StateTooLarge(f"the user's state would exceed {max_state_bytes:,} bytes "
                                    "(too many or too long attributes, tags, segments or profile values)")
        except Exception as e:  # noqa: BLE001 - a poison event is refused, the partition goes on
            batch.refused.append(Refused(ref, event.bot_id, value, [f"not processed: {type(e).__name__}: {e}"]))
            continue
        current[key] = folded
        rows.setdefault(key, []).extend(new_rows)
        taken.setdefault(key, []).append((ref, value, event.bot_id))
    for key, projected in current.items():
        if projected is loaded[key]:
            continue
        encoded = encode_state(projected)
        if len(encoded) > MAX_RECORD_BYTES:  # only a state grown by many events of one batch gets here
            batch.refused += [Refused(ref, bot_id, value, [f"not processed: the user's state would exceed "
                                                           f"{MAX_RECORD_BYTES:,} bytes"])
                              for ref, value, bot_id in taken[key]]
            continue
        batch.states[key] = (taken[key][-1][0], encoded)
        batch.rows += rows.get(key, [])
    return batch


class StateTooLarge(ValueError):
    pass
