"""The id index: the ids of folded events that a user's state forgot, so that a late copy still counts once.

A batch forgets about one id per event (each id once its user's watermark is a grace past it). One record
per id made each a table write and a changelog record of its own: 0.64–1.02 per event in the stream bench, nine
tenths of the projection's table writes. Here one record per user and hour of event time holds that hour's
ids (0.06–0.12 records per event in the same traffic); ids that would take an hour's record past HOUR_BYTES (a
flood of one user's events in one hour) get a record each, as every id did before, so an index written by
older code still answers.

Pure: `read(key)` is the table's raw value or None; the caller writes the records it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pipeline.kafka import topics
from pipeline.kafka.codecs import decode_ids, encode_ids

HOUR_MS = 3_600_000
HOUR_BYTES = 64 * 1024  # the most an hour's record holds: each batch that adds to it writes it whole again
ONE = b"1"  # the value of a single id's record: its key says it all

Read = Callable[[bytes], bytes | None]


def holds(read: Read, bot_id: str, user_id: str, event_id: str, at_ms: int) -> bool:
    """Whether the index has this event: in its hour's record (a copy has the event time of the original),
    else in a record of its own."""
    if event_id in decode_ids(read(topics.folded_hour_key(bot_id, user_id, at_ms // HOUR_MS))):
        return True
    return read(topics.folded_key(bot_id, user_id, event_id)) is not None


def records(read: Read, bot_id: str, user_id: str, forgotten: Mapping[str, int]) -> list[tuple[bytes, bytes]]:
    """The records that add these ids (event id -> its event time in ms) to the index: per hour, that hour's
    record with them; or, when it would outgrow HOUR_BYTES, one record per id not in it yet."""
    by_hour: dict[int, list[str]] = {}
    for event_id, at_ms in forgotten.items():
        by_hour.setdefault(at_ms // HOUR_MS, []).append(event_id)
    out: list[tuple[bytes, bytes]] = []
    for hour in sorted(by_hour):
        key = topics.folded_hour_key(bot_id, user_id, hour)
        held = decode_ids(read(key))
        new = [event_id for event_id in by_hour[hour] if event_id not in held]
        if not new:
            continue
        value = encode_ids([*held, *new])
        if len(value) <= HOUR_BYTES:
            out.append((key, value))
        else:
            singles = (topics.folded_key(bot_id, user_id, event_id) for event_id in sorted(new))
            out += [(single, ONE) for single in singles if read(single) is None]
    return out
