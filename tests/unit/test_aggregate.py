import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.aggregate import (DEDUPE_LIMIT, UserState, apply, message_score, rebuild, snapshot,
                                step)
from pipeline.core.sessionizer import NO_CHANGE, to_ms
from schemas.events import (AttributeRemoved, AttributeSet, ButtonClick, EmailEdited, Message,
                            NameEdited, Profile, ProfileUpdate, SegmentAdded, SegmentRemoved, TagAdded,
                            TagRemoved, UserBanned, UserDeleted, UserUnbanned)

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)
GRACE = timedelta(hours=1)
SCORES = {"awful": -0.8, "meh": 0.0, "ok": 0.25, "great": 0.9}
USER = dict(bot_id="demo", user_id="telegram:42")


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def said(event_id, minute, text="ok", direction="inbound"):
    return Message(event_id=event_id, occurred_at=at(minute), direction=direction, text=text, **USER)


def clicked(event_id, minute, button_type="postback"):
    return ButtonClick(event_id=event_id, occurred_at=at(minute), button_type=button_type, **USER)


def profiled(event_id, minute, **fields):
    return ProfileUpdate(event_id=event_id, occurred_at=at(minute), profile=Profile(**fields), **USER)


def admin(kind, event_id, minute, **fields):
    return kind(event_id=event_id, occurred_at=at(minute), **USER, **fields)


def fold(events, state=None, window=WINDOW, grace=GRACE):
    state = state or UserState()
    for e in events:
        state = apply(state, e, sentiment=message_score(e, SCORES.get), window=window, grace=grace)
    return state


def row(events, **kw):
    return snapshot(fold(events, **kw))


def test_inbound_messages_and_clicks_make_the_users_numbers():
    r = row([said("m1", 0, "great"), clicked("c1", 2, "url"), said("m2", 5, "awful"),
             clicked("c2", 30), said("m3", 31, "meh")])

    assert r["messages_sent"] == 3
    assert r["clicks"] == 2
    assert r["sessions"] == 2
    assert r["time_spent_seconds"] == 360.0
    assert r["avg_sentiment"] == 1 / 30
    assert r["first_seen"] == at(0)
    assert r["last_seen"] == at(31)
    assert r["last_message_at"] == at(31)
    assert r["channels"] == ["telegram"]


def test_outbound_message_does_not_extend_session():
    r = row([said("m1", 0), said("r1", 9, "reply", "outbound"), said("m2", 15)])

    assert r["sessions"] == 2
    assert r["time_spent_seconds"] == 0.0
    assert r["messages_sent"] == 2
    assert r["last_seen"] == at(15)


def test_profile_updates_and_admin_events_do_not_move_first_or_last_seen():
    r = row([profiled("p1", 0, city="Oslo"), said("m1", 5), admin(TagAdded, "t1", 9, tag="vip"),
             profiled("p2", 12, city="Bergen")])

    assert (r["first_seen"], r["last_seen"]) == (at(5), at(5))
    assert r["sessions"] == 1
    assert r["time_spent_seconds"] == 0.0


def test_user_with_no_interactions_has_no_sessions_and_no_sentiment():
    r = row([profiled("p1", 0, name="Ada")])

    assert (r["sessions"], r["messages_sent"], r["first_seen"], r["avg_sentiment"]) == (0, 0, None, None)
    assert r["name"] == "Ada"


def test_duplicate_event_is_counted_once():
    state = fold([said("m1", 0, "great"), clicked("c1", 1), said("m1", 0, "great"), clicked("c1", 1)])

    r = snapshot(state)
    assert (r["messages_sent"], r["clicks"], r["sessions"]) == (1, 1, 1)
    assert r["avg_sentiment"] == 0.9
    again = step(state, clicked("c1", 1), sentiment=None, window=WINDOW, grace=GRACE)
    assert again == (state, NO_CHANGE)


def test_the_state_forgets_ids_past_grace_and_asks_the_index_for_copies_older_than_it_remembers():
    state = fold([said("m1", 0), said("m2", 61)])

    assert "m1" not in state.seen and state.forgotten_ms == to_ms(at(0))
    assert row([said("m1", 0), said("m2", 60), said("m1", 0)])["messages_sent"] == 2
    asked = []
    again = apply(state, said("m1", 0), sentiment=0.25, window=WINDOW, grace=GRACE,
                  known=lambda event_id: asked.append(event_id) or event_id == "m1")
    assert again == state and asked == ["m1"]
    assert snapshot(fold([said("m1", 0)], state))["messages_sent"] == 3  # no index (known: never): counted again
    apply(state, said("m3", 62), sentiment=0.25, window=WINDOW, grace=GRACE, known=asked.append)
    assert asked == ["m1"]  # newer than what the state forgot: the index is not asked


def test_dedupe_memory_is_bounded():
    state = fold([clicked(f"c{i}", i / 1000) for i in range(DEDUPE_LIMIT + 5)])

    assert len(state.seen) == DEDUPE_LIMIT
    assert "c0" not in state.seen and f"c{DEDUPE_LIMIT + 4}" in state.seen


def test_empty_profile_field_never_overwrites():
    r = row([profiled("p1", 0, city="Oslo", name="Ada"), profiled("p2", 5, city="", name=None)])

    assert (r["city"], r["name"]) == ("Oslo", "Ada")


def test_newest_profile_value_wins_by_event_time_not_arrival():
    r = row([profiled("p2", 5, country="NO"), profiled("p1", 0, country="SE", language="sv")])

    assert (r["country"], r["language"]) == ("NO", "sv")


def test_name_edit_wins_against_older_profile_updates_and_loses_to_newer_ones():
    events = [profiled("p1", 0, name="ada"), admin(NameEdited, "n1", 5, name="Ada Lovelace"),
              profiled("p2", 3, name="ada l."), admin(EmailEdited, "e1", 5, email="ada@x.test")]

    assert row(events)["name"] == "Ada Lovelace"
    assert row(events)["email"] == "ada@x.test"
    assert row([*events, profiled("p3", 9, name="Countess")])["name"] == "Countess"
    assert row([*events, admin(NameEdited, "n2", 10, name="")])["name"] is None  # an edit may clear


def test_removed_attribute_is_not_resurrected_by_an_older_late_set():
    r = row([admin(AttributeSet, "a1", 0, key="plan", value="pro"),
             admin(AttributeRemoved, "a3", 10, key="plan"),
             admin(AttributeSet, "a2", 5, key="plan", value="free"),
             admin(AttributeSet, "a4", 6, key="fav_food", value="pizza")])

    assert r["attributes"] == {"fav_food": "pizza"}


def test_tags_segments_and_ban_take_the_newest_by_event_time():
    r = row([admin(TagAdded, "t1", 0, tag="vip"), admin(TagRemoved, "t2", 5, tag="vip"),
             admin(TagAdded, "t0", 3, tag="lead"), admin(SegmentRemoved, "s2", 5, segment="news"),
             admin(SegmentAdded, "s1", 1, segment="news"), admin(SegmentAdded, "s3", 2, segment="beta"),
             admin(UserUnbanned, "b2", 8), admin(UserBanned, "b1", 4)])

    assert (r["tags"], r["segments"], r["banned"]) == (["lead"], ["beta"], False)
    assert row([admin(UserBanned, "b1", 4)])["banned"] is True


def test_per_bot_window_changes_session_count():
    events = [said("m1", 0), said("m2", 7), said("m3", 14)]

    assert row(events)["sessions"] == 1
    assert row(events, window=timedelta(minutes=5))["sessions"] == 3


def test_late_event_bridging_two_sessions_merges_them():
    state = fold([said("m1", 0), said("m3", 20)])
    state, change = step(state, clicked("c2", 10), sentiment=None, window=WINDOW, grace=GRACE)

    assert change.removed == ("m3",)
    assert change.upserted is not None and change.upserted.id == "m1"
    assert (snapshot(state)["sessions"], snapshot(state)["time_spent_seconds"]) == (1, 1200.0)


def test_too_late_message_is_still_counted():
    r = row([said("m1", 0), said("m2", 120), said("m0", 1, "great")])

    assert (r["messages_sent"], r["sessions"], r["first_seen"]) == (3, 3, at(0))
    assert r["avg_sentiment"] == 7 / 15


def test_last_session_data_includes_profile_captured_in_it():
    r = row([profiled("p1", 0, city="Oslo", source="https://a.test"), said("m1", 1, "great"),
             said("m2", 40, "awful"), profiled("p2", 38, source="https://b.test", ip="10.0.0.1"),
             said("m3", 45, "ok")])

    assert (r["last_session_start"], r["last_session_end"]) == (at(40), at(45))
    assert r["last_session_messages"] == 2
    assert r["last_session_sentiment"] == -0.275
    assert r["last_session_profile"] == {"source": "https://b.test", "ip": "10.0.0.1"}
    assert (r["city"], r["source"]) == ("Oslo", "https://b.test")


def test_deleted_user_is_erased_and_older_late_events_are_ignored():
    state, change = step(fold([said("m1", 0), admin(TagAdded, "t1", 1, tag="vip")]),
                         admin(UserDeleted, "d1", 5), sentiment=None, window=WINDOW, grace=GRACE)
    state = fold([said("m0", 2), profiled("p0", 3, name="Ada")], state)

    r = snapshot(state)
    assert change.removed == ("m1",)
    assert (r["is_deleted"], r["messages_sent"], r["sessions"], r["tags"], r["name"]) == \
        (True, 0, 0, [], None)


def test_user_writing_after_deletion_comes_back_as_a_new_user():
    r = row([said("m1", 0), admin(UserDeleted, "d1", 5), said("m2", 8, "great")])

    assert (r["is_deleted"], r["messages_sent"], r["sessions"]) == (False, 1, 1)
    assert (r["first_seen"], r["avg_sentiment"]) == (at(8), 0.9)


def test_admin_event_after_deletion_does_not_bring_the_user_back():
    r = row([said("m1", 0), admin(UserDeleted, "d1", 5), admin(TagAdded, "t1", 6, tag="vip"),
             said("r1", 7, "hi", "outbound")])

    assert (r["is_deleted"], r["tags"], r["messages_sent"]) == (True, ["vip"], 0)


def test_sentiment_outside_minus_one_to_one_is_rejected():
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        apply(UserState(), said("m1", 0), sentiment=1.2, window=WINDOW, grace=GRACE)


def test_only_inbound_text_is_scored():
    assert message_score(said("m1", 0, "great"), SCORES.get) == 0.9
    assert message_score(said("m1", 0, "great", "outbound"), SCORES.get) is None
    assert message_score(said("m1", 0, "  "), SCORES.get) is None
    assert message_score(clicked("c1", 0), SCORES.get) is None


def test_state_round_trips_through_dict():
    state = fold([profiled("p1", 0, city="Oslo"), said("m1", 1, "great"), clicked("c1", 2, "url"),
                  admin(AttributeSet, "a1", 3, key="plan", value="pro"),
                  admin(TagAdded, "t1", 3, tag="x"), admin(TagRemoved, "t2", 4, tag="x"), admin(UserBanned, "b1", 4), said("m2", 90)])

    again = UserState.from_dict(json.loads(json.dumps(state.to_dict())))

    assert again == state
    assert snapshot(again) == snapshot(state)


# -- the law: streamed fold == batch rebuild for any arrival order within the grace --------------

GRACE_MIN = 30
MAKERS = [
    lambda i, m, v: said(i, m, ["awful", "meh", "ok", "great", ""][v % 5]),
    lambda i, m, v: said(i, m, "reply", "outbound"),
    lambda i, m, v: clicked(i, m, ["url", "postback"][v % 2]),
    lambda i, m, v: profiled(i, m, **{["city", "name", "region"][v % 3]: ["", "A", "B"][v // 3 % 3]}),
    lambda i, m, v: admin(NameEdited, i, m, name=f"N{v}"),
    lambda i, m, v: admin([TagAdded, TagRemoved][v % 2], i, m, tag=f"t{v % 3}"),
    lambda i, m, v: admin([SegmentAdded, SegmentRemoved][v % 2], i, m, segment=f"s{v % 2}"),
    lambda i, m, v: admin(AttributeSet, i, m, key=f"k{v % 2}", value=f"v{v}"),
    lambda i, m, v: admin(AttributeRemoved, i, m, key=f"k{v % 2}"),
    lambda i, m, v: admin([UserBanned, UserUnbanned][v % 2], i, m),
]
events_strategy = st.lists(
    st.tuples(st.integers(0, len(MAKERS) - 1), st.integers(0, 300), st.integers(0, GRACE_MIN),
              st.integers(0, 11), st.one_of(st.none(), st.integers(0, GRACE_MIN))),
    min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(events_strategy)
def test_streamed_fold_equals_batch_rebuild_for_any_arrival_order_within_grace(items):
    events, arrivals = [], []
    for n, (maker, minute, delay, variant, redelivery) in enumerate(items):
        event = MAKERS[maker](f"e{n:02}", minute, variant)
        events.append(event)
        arrivals.append((minute + delay, n, event))
        if redelivery is not None:  # the platform retries: same event, later arrival
            arrivals.append((minute + redelivery, n, event))
    arrived = [e for _, _, e in sorted(arrivals, key=lambda a: (a[0], a[1]))]
    grace = timedelta(minutes=GRACE_MIN)

    streamed = fold(arrived, grace=grace)

    assert snapshot(streamed) == snapshot(rebuild(arrived, score=SCORES.get, window=WINDOW, grace=grace))
    assert snapshot(streamed) == snapshot(rebuild(events, score=SCORES.get, window=WINDOW, grace=grace))


def test_long_last_session_keeps_the_profile_captured_at_its_start():
    chat = [said(f"m{i:02}", 1 + 9 * i) for i in range(20)]  # one session of 171 minutes

    r = row([profiled("p1", 0, source="https://a.test"), *chat], grace=timedelta(minutes=30))

    assert r["sessions"] == 1
    assert r["last_session_profile"] == {"source": "https://a.test"}


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.integers(0, 40))
def test_a_step_leaves_the_state_it_was_given_as_it_was(items, deleted_at):
    """step changes a copy of its own in place (one per event): the state it was given, and every state
    before it, stay as they were (the stream keeps the batch's first state to compare with)."""
    events = [MAKERS[maker](f"e{n:02}", minute, variant) for n, (maker, minute, _, variant, _) in enumerate(items)]
    events.insert(len(events) // 2, admin(UserDeleted, "gone", deleted_at))
    state, kept = UserState(), []
    for event in events:
        before = json.dumps(state.to_dict(), sort_keys=True)
        kept.append((state, before))
        state, _ = step(state, event, sentiment=message_score(event, SCORES.get), window=WINDOW,
                        grace=timedelta(minutes=GRACE_MIN))
    assert all(json.dumps(s.to_dict(), sort_keys=True) == before for s, before in kept)
