"""A redelivered event counts once, however old its event time: the state's recent ids plus the id index."""

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.aggregate import DEDUPE_LIMIT
from pipeline.core.projection import Projected, coalesce, project, rebuild_rows
from pipeline.core.sessionizer import to_ms
from pipeline.kafka.codecs import decode_state, encode_ids
from pipeline.kafka.topics import folded_hour_key
from pipeline.stream.fold_batch import BatchFolder, fold_batch
from pipeline.stream.id_index import HOUR_MS
from schemas.events import parse_event

WINDOW, GRACE = timedelta(minutes=10), timedelta(hours=24)
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
SCORES = {"awful": -0.8, "meh": 0.0, "ok": 0.25, "great": 0.9}


def score(text: str) -> float | None:
    return SCORES.get(text)


def message(event_id: str, minute: float, user: str = "telegram:42", text: str = "ok") -> dict:
    return {"kind": "message", "bot_id": "demo", "user_id": user, "event_id": event_id, "channel": "telegram",
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(), "direction": "inbound", "text": text}


def click(event_id: str, minute: float, user: str = "telegram:42") -> dict:
    return {"kind": "button_click", "bot_id": "demo", "user_id": user, "event_id": event_id, "channel": "telegram",
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(), "button_type": "postback", "title": "Go"}


class Stream:
    """The projection agent's loop without Kafka: batches folded against a table of states and folded ids
    that survives between batches as bytes (as the Faust table and its changelog do across a restart)."""

    def __init__(self) -> None:
        self.table: dict[bytes, bytes] = {}
        self.rows: list[dict] = []

    def consume(self, batch: list[dict]) -> None:
        folded = fold_batch([(None, json.dumps(e).encode()) for e in batch],
                            lambda _, key: decode_state(self.table.get(key)), score=score,
                            window_for=lambda _: WINDOW, grace=GRACE, read=lambda _, key: self.table.get(key))
        assert folded.refused == []
        self.table.update({key: value for _, key, value in folded.index})
        self.table.update({key: state for key, (_, state) in folded.states.items()})
        self.rows += folded.rows

    def final_rows(self) -> list[dict]:
        return comparable(r for r in coalesce(self.rows) if not r["is_deleted"] and r["table"] != "events")

    def stored_events(self) -> list[str]:
        """The raw events the sink would store: once each (rows of one id and version are the same row)."""
        return sorted(r["event_id"] for r in self.rows if r["table"] == "events")


def comparable(rows) -> list[dict]:
    """Rows as the Users section shows them; a message's or session's version depends on arrival order (the
    users row's does not: it counts the distinct events folded)."""
    return sorted(({k: v for k, v in r.items() if k != "version" or r["table"] == "users"} for r in rows),
                  key=row_order)


def row_order(row: dict) -> tuple:
    return (row["table"], row["user_id"], row.get("session_id") or row.get("event_id") or "")


def batch_rows(events: list[dict]) -> list[dict]:
    distinct = {e["event_id"]: parse_event(e) for e in events}
    users = {e.user_id for e in distinct.values()}
    rows = [r for u in users for r in rebuild_rows([e for e in distinct.values() if e.user_id == u],
                                                   score=score, window=WINDOW, grace=GRACE)]
    return comparable(rows)


def users_row(rows: list[dict]) -> dict:
    [user] = [r for r in rows if r["table"] == "users"]
    return user


def test_a_copy_arriving_after_the_user_moved_a_day_on_counts_once():
    first, second = message("e1", 0), message("e2", 25 * 60)   # 2026-11-01 10:00, then 2026-11-02 11:00
    stream = Stream()
    for event in (first, second, first):
        stream.consume([event])

    user = users_row(stream.final_rows())
    assert (user["messages_sent"], user["sessions"], user["version"]) == (2, 2, 2)
    assert stream.final_rows() == batch_rows([first, second])
    assert stream.stored_events() == ["e1", "e2"]


def test_the_pure_fold_without_an_index_still_refolds_what_its_state_forgot():
    """Why the index exists: the state alone keeps only recent ids (bounded), so the stream must consult it."""
    projected = Projected()
    for raw in (message("e1", 0), message("e2", 25 * 60), message("e1", 0)):
        projected, _ = project(projected, parse_event(raw), score=score, window=WINDOW, grace=GRACE)
    assert projected.state.messages_sent == 3 and "e1" not in projected.state.seen
    assert projected.state.forgotten_ms is not None


def test_the_index_is_asked_only_for_events_older_than_what_the_state_forgot():
    asked: list[bytes] = []
    stream = Stream()
    in_order = [message(f"m{i}", i) for i in range(DEDUPE_LIMIT + 50)]
    folder = BatchFolder(lambda _, key: Projected(), score=score, window_for=lambda _: WINDOW, grace=GRACE,
                         read=lambda _, key: asked.append(key))
    for event in in_order:
        folder.add(None, json.dumps(event).encode())
    assert asked == []  # in-order traffic never looks an event up in the index, however busy the user
    folded = folder.finish()
    hour = folded_hour_key("demo", "telegram:42", to_ms(T0) // HOUR_MS)
    assert asked == [hour]  # the hour's record, once, to add the forgotten ids to it
    assert folded.index == [(None, hour, encode_ids(f"m{i}" for i in range(50)))]
    few = fold_batch([(None, json.dumps(e).encode()) for e in in_order[:10]], lambda _, key: Projected(),
                     score=score, window_for=lambda _: WINDOW, grace=GRACE)
    assert few.index == []   # ids the state still remembers are not written to the index
    state = decode_state(folded.states[b"demo:telegram:42"][1]).state
    assert len(state.seen) == DEDUPE_LIMIT and "m0" not in state.seen
    stream.consume(in_order)
    stream.consume([message("m0", 0), message("m300", 300)])   # a forgotten copy, and new events
    user = users_row(stream.final_rows())
    assert (user["messages_sent"], user["version"]) == (DEDUPE_LIMIT + 50, DEDUPE_LIMIT + 50)


def test_copies_in_one_batch_of_an_event_the_state_forgets_at_once_count_once():
    """A too-late event is forgotten by the state as soon as it is folded; its copy in the same batch
    is caught by the batch's own ids, before the index has them."""
    late, stream = message("late", 0), Stream()
    stream.consume([message("now", 3 * 24 * 60)])
    stream.consume([late, late, click("c", 3 * 24 * 60 + 1), late])
    user = users_row(stream.final_rows())
    assert (user["messages_sent"], user["clicks"], user["version"]) == (2, 1, 3)


# -- the law: any interleaving of events and copies, copies days late, batches of any size ------------------

events_strategy = st.lists(
    st.tuples(st.integers(0, 2),                      # user
              st.integers(0, 4 * 24 * 60),            # event time (minutes over four days)
              st.integers(0, 23 * 60),                # arrival delay of the original: within the grace
              st.integers(0, 4),                      # kind / text
              st.lists(st.integers(0, 5 * 24 * 60), max_size=3)),  # arrival delays of copies: up to five days
    min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.lists(st.integers(1, 8), min_size=1, max_size=20))
def test_any_interleaving_of_events_and_late_copies_folds_to_the_batch_of_the_distinct_events(items, sizes):
    assert_streamed_equals_batch(items, sizes)


def assert_streamed_equals_batch(items, sizes) -> None:
    """Events and their copies arriving as `items` say, consumed in batches of `sizes` (cycled)."""
    originals, arrivals = [], []
    for n, (user, minute, delay, kind, copies) in enumerate(items):
        make = click if kind == 4 else lambda i, m, u: message(i, m, u, ["awful", "meh", "ok", "great"][kind])
        event = make(f"e{n:02}", minute, f"telegram:{user}")
        originals.append(event)
        arrivals.append((minute + delay, n, 0, event))
        arrivals += [(minute + delay + later, n, c + 1, event) for c, later in enumerate(copies)]
    arrived = [e for *_, e in sorted(arrivals, key=lambda a: a[:3])]
    stream, start = Stream(), 0
    for size in sizes * (len(arrived) // len(sizes) + 1):
        if start >= len(arrived):
            break
        stream.consume(arrived[start:start + size])
        start += size

    assert stream.final_rows() == batch_rows(originals)
    assert stream.stored_events() == sorted(e["event_id"] for e in originals)
