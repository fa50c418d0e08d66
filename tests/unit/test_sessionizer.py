import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.sessionizer import (Hit, Session, SessionConfig, SessionState, add, from_ms, sessionize,
                                  to_ms)
from schemas.events import ButtonClick, Message

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MIN = 60_000  # ms
CONFIG = SessionConfig(window=timedelta(minutes=10), grace=timedelta(hours=1))


def hit(event_id: str, minute: float, kind: str = "message", sentiment: float | None = None) -> Hit:
    micros = None if sentiment is None else round(sentiment * 1_000_000)
    return Hit(event_id, to_ms(T0) + round(minute * MIN), kind, micros)  # type: ignore[arg-type]


def stream(hits, config=CONFIG, state=None):
    """Feed hits in arrival order; return the final state, the sink's rows, and the changes."""
    state = state or SessionState()
    rows: dict[str, Session] = {}
    changes = []
    for h in hits:
        state, change = add(state, h, config)
        changes.append(change)
        for removed in change.removed:
            rows.pop(removed, None)
        if change.upserted is not None:
            rows[change.upserted.id] = change.upserted
    return state, rows, changes


def test_gap_of_exactly_the_window_stays_in_the_session():
    state, rows, _ = stream([hit("a", 0), hit("b", 10)])

    assert state.count == 1
    assert rows["a"].duration_seconds == 600.0
    assert rows["a"].interactions == 2


def test_gap_one_millisecond_over_the_window_starts_a_new_session():
    state, rows, _ = stream([hit("a", 0), hit("b", 10 + 1 / MIN)])

    assert state.count == 2
    assert sorted(rows) == ["a", "b"]
    assert state.time_spent_ms == 0


def test_one_event_session_lasts_zero_seconds():
    state, rows, _ = stream([hit("a", 3)])

    assert rows["a"].duration_seconds == 0.0
    assert rows["a"].start == rows["a"].end == T0 + timedelta(minutes=3)
    assert state.count == 1


def test_late_event_bridging_two_sessions_merges_them():
    state, rows, changes = stream([hit("a", 0), hit("c", 20), hit("b", 10, "click")])

    assert changes[1].upserted is not None and changes[1].upserted.id == "c"
    assert changes[2].removed == ("c",)
    assert changes[2].upserted == Session("a", to_ms(T0), to_ms(T0) + 20 * MIN, 3, 2, 1, 0, 0)
    assert state.count == 1
    assert state.time_spent_ms == 20 * MIN
    assert list(rows) == ["a"]


def test_late_event_before_the_first_one_gives_the_session_its_id():
    _, rows, changes = stream([hit("b", 5), hit("a", 0)])

    assert changes[1].removed == ("b",)
    assert list(rows) == ["a"]
    assert rows["a"].start_ms == to_ms(T0)
    assert rows["a"].end_ms == to_ms(T0) + 5 * MIN


def test_equal_times_take_the_smaller_event_id_as_session_id():
    _, rows, _ = stream([hit("z", 0), hit("m", 0)])

    assert list(rows) == ["m"]
    assert rows["m"].interactions == 2


def test_per_bot_window_changes_session_count():
    hits = [hit("a", 0), hit("b", 7), hit("c", 14), hit("d", 30)]

    assert len(sessionize(hits, timedelta(minutes=10))) == 2
    assert len(sessionize(hits, timedelta(minutes=5))) == 4
    assert len(sessionize(hits, timedelta(minutes=16))) == 1


def test_window_change_applies_from_the_next_event_on():
    state, _, _ = stream([hit("a", 0), hit("b", 7)])
    shorter = SessionConfig(window=timedelta(minutes=5), grace=CONFIG.grace)

    state, _, _ = stream([hit("c", 14)], shorter, state)

    assert state.count == 2
    assert [(s.id, s.interactions) for s in state.open] == [("a", 2), ("c", 1)]


def test_sessions_beyond_grace_close_into_totals():
    state, _, _ = stream([hit("a", 0), hit("b", 4), hit("c", 120)])

    assert [s.id for s in state.open] == ["c"]
    assert state.closed_sessions == 1
    assert state.closed_ms == 4 * MIN
    assert state.count == 2
    assert state.time_spent_ms == 4 * MIN


def test_session_ending_exactly_at_the_horizon_stays_open():
    # horizon = watermark - grace - window = 70 - 60 - 10 = minute 0
    state, _, _ = stream([hit("a", 0), hit("b", 70)])

    assert [s.id for s in state.open] == ["a", "b"]
    assert state.closed_sessions == 0


def test_too_late_event_next_to_a_closed_session_counts_as_a_session_of_its_own():
    state, rows, changes = stream([hit("a", 0), hit("c", 120), hit("b", 1)])

    assert changes[2].upserted == Session("b", to_ms(T0) + MIN, to_ms(T0) + MIN, 1, 1, 0, 0, 0)
    assert changes[2].removed == ()
    assert state.count == 3  # a batch rebuild says 2: closed sessions are never reopened
    assert len(sessionize([hit("a", 0), hit("c", 120), hit("b", 1)], CONFIG.window)) == 2
    assert state.closed_sessions == 2
    assert sorted(rows) == ["a", "b", "c"]


def test_too_late_event_joins_an_open_session_it_touches():
    # "b" is 65 min behind the watermark (grace 60) but session "a" is still open
    state, rows, _ = stream([hit("a", 0), hit("c", 70), hit("b", 5)])

    assert state.count == 2
    assert rows["a"].interactions == 2
    assert rows["a"].duration_seconds == 300.0


def test_session_stats_merge_counts_and_exact_sentiment():
    _, rows, _ = stream([hit("a", 0, sentiment=0.1), hit("c", 20, sentiment=0.2),
                         hit("b", 10, sentiment=0.4), hit("d", 12, "click")])

    s = rows["a"]
    assert (s.interactions, s.messages, s.clicks) == (4, 3, 1)
    assert s.sentiment_micros == 700_000
    assert s.sentiment_count == 3
    assert s.sentiment_sum == 0.7
    assert s.avg_sentiment == 7 / 30


def test_state_stays_small_over_a_long_history():
    hits = [hit(f"e{i}", i * 11) for i in range(2000)]  # every hit its own session, 15 days

    state, _, _ = stream(hits)

    assert state.count == 2000
    assert len(state.open) == 7  # sessions ending within grace + window of the watermark


def test_state_round_trips_through_dict():
    state, _, _ = stream([hit("a", 0, sentiment=-0.25), hit("b", 3, "click"), hit("c", 200)])

    again = SessionState.from_dict(json.loads(json.dumps(state.to_dict())))

    assert again == state


def test_hit_from_event_takes_event_time_kind_and_sentiment():
    base = dict(bot_id="demo", user_id="telegram:42", channel="telegram", occurred_at=T0)
    message = Message(event_id="m1", direction="inbound", text="hi", **base)
    click = ButtonClick(event_id="c1", button_type="url", url="https://x.test", **base)
    reply = Message(event_id="m2", direction="outbound", text="hello", **base)

    assert Hit.from_event(message, 0.5) == Hit("m1", to_ms(T0), "message", 500_000)
    assert Hit.from_event(click, 0.5) == Hit("c1", to_ms(T0), "click", None)
    assert from_ms(to_ms(T0)) == T0
    with pytest.raises(ValueError, match="not an interaction"):
        Hit.from_event(reply)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        Hit.from_event(message, 1.5)


def test_config_rejects_a_window_that_is_not_positive():
    with pytest.raises(ValueError, match="window"):
        SessionConfig(window=timedelta(0))


# -- the law: streamed == batch for any arrival order within the grace ---------------------------

GRACE_MIN = 30
arrivals = st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, GRACE_MIN), st.sampled_from(["message", "click"]),
              st.sampled_from([None, -0.5, 0.25, 0.3333])),
    min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(arrivals, st.sampled_from([5, 10, 17]))
def test_streamed_sessions_equal_batch_for_any_arrival_order_within_grace(items, window_min):
    config = SessionConfig(window=timedelta(minutes=window_min), grace=timedelta(minutes=GRACE_MIN))
    hits = [hit(f"e{i:02}", minute, kind, score if kind == "message" else None)
            for i, (minute, _, kind, score) in enumerate(items)]
    # arriving at time + delay (delay <= grace) keeps every event within the grace of the watermark
    order = sorted(range(len(items)), key=lambda i: (items[i][0] + items[i][1], i))

    state, rows, _ = stream([hits[i] for i in order], config)

    batch = sessionize(hits, config.window)
    assert rows == {s.id: s for s in batch}
    assert state.count == len(batch)
    assert state.time_spent_ms == sum(s.end_ms - s.start_ms for s in batch)
    assert set(state.open) <= set(batch)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(-20, 20),
                          st.sampled_from(["message", "click"]), st.none() | st.floats(-1, 1)),
                min_size=2, max_size=6))
def test_a_hit_added_to_a_session_is_the_merge_of_the_two(hits):
    """Session.plus, the path of an in-order hit, equals merging the hit's own session in (id, times, counts)."""
    first, *rest = [hit(i, minute, kind, sentiment if kind == "message" else None)
                    for i, minute, kind, sentiment in hits]
    session = Session.of(first)
    for h in rest:
        assert session.plus(h) == Session.of(h).merge(session)
        session = session.plus(h)
