"""A batch writes each session once: its rows, once the sink keeps the newest of each, are the rows of
folding its events one at a time."""

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.projection import Projected, coalesce, project
from pipeline.stream.fold_batch import fold_batch
from schemas.events import parse_event

WINDOW, GRACE = timedelta(minutes=10), timedelta(hours=24)
T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def event(event_id: str, minute: int, kind: str) -> dict:
    base = {"bot_id": "demo", "user_id": "telegram:42", "event_id": event_id, "channel": "telegram",
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat()}
    if kind == "click":
        return {**base, "kind": "button_click", "button_type": "postback", "title": "Go"}
    if kind == "deleted":
        return {**base, "kind": "user_deleted"}
    return {**base, "kind": "message", "direction": kind, "text": "ok"}


def folded(events: list[dict]) -> list[dict]:
    batch = fold_batch([(i, json.dumps(e).encode()) for i, e in enumerate(events)], lambda ref, key: Projected(),
                       score=lambda text: 0.25, window_for=lambda bot: WINDOW, grace=GRACE)
    return batch.rows


def one_at_a_time(events: list[dict]) -> list[dict]:
    projected, rows = Projected(), []
    for e in events:
        projected, new = project(projected, parse_event(e), score=lambda text: 0.25, window=WINDOW, grace=GRACE)
        rows += new
    return rows


def newest(rows: list[dict]) -> list[dict]:
    return sorted((r for r in coalesce(rows) if r["table"] != "events"),
                  key=lambda r: json.dumps(r, default=str, sort_keys=True))


def test_a_session_the_batch_extends_five_times_is_written_once_with_its_last_version():
    rows = folded([event(f"m{i}", i, "inbound") for i in range(5)])

    [session] = [r for r in rows if r["table"] == "sessions"]
    assert (session["session_id"], session["interactions"], session["version"]) == ("m0", 5, 5)


def test_a_late_message_bridging_two_sessions_writes_the_merged_one_and_removes_the_other():
    rows = folded([event("a", 0, "inbound"), event("c", 15, "inbound"), event("b", 8, "inbound")])

    sessions = sorted((r["session_id"], r["interactions"], r["is_deleted"], r["version"])
                      for r in rows if r["table"] == "sessions")
    # c as last upserted (version 2) and its removal (version 3): the sink keeps the removal, the newer
    assert sessions == [("a", 3, 0, 3), ("c", 0, 1, 3), ("c", 1, 0, 2)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["inbound", "outbound", "click", "deleted"])),
                min_size=1, max_size=30))
def test_a_batchs_newest_rows_are_those_of_its_events_folded_one_at_a_time(items):
    events = [event(f"e{n:02}", minute, kind) for n, (minute, kind) in enumerate(items)]

    assert newest(folded(events)) == newest(one_at_a_time(events))
