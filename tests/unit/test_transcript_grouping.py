"""Grouping a transcript's messages by session (pure; the SQL side is in tests/integration/test_user_detail.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queries.users import group_by_session

WINDOW = timedelta(minutes=10)


def t(minute: int) -> datetime:
    return datetime(2026, 2, 10, 10, tzinfo=UTC) + timedelta(minutes=minute)


def session(sid: str, start: int, end: int) -> dict:
    return {"session_id": sid, "started_at": t(start), "ended_at": t(end)}


def message(n: int, minute: int) -> dict:
    return {"event_id": f"m{n:02d}", "occurred_at": t(minute)}


def grouped(messages: list[dict], sessions: list[dict]) -> list[tuple]:
    return [(g["session"] and g["session"]["session_id"], [m["event_id"] for m in g["messages"]])
            for g in group_by_session(messages, sessions, WINDOW)]


def test_a_message_within_the_window_after_a_session_stays_with_it():
    assert grouped([message(1, 0), message(2, 5), message(3, 15)], [session("a", 0, 5)]) == \
           [("a", ["m01", "m02", "m03"])]


def test_a_message_beyond_the_window_or_before_the_first_session_has_no_session():
    messages = [message(1, -1), message(2, 1), message(3, 12), message(4, 30), message(5, 31)]
    assert grouped(messages, [session("a", 0, 1), session("b", 30, 30)]) == [
        (None, ["m01"]), ("a", ["m02"]), (None, ["m03"]), ("b", ["m04", "m05"])]


def test_messages_come_in_time_order_whatever_order_they_are_given_in():
    assert grouped([message(2, 3), message(1, 0)], [session("a", 0, 3)]) == [("a", ["m01", "m02"])]


def test_an_older_long_session_still_owns_a_message_a_later_short_session_does_not_cover():
    # a session of one very late event (beyond the grace) can start inside an older one
    messages = [message(1, 0), message(2, 25), message(3, 50)]
    assert grouped(messages, [session("long", 0, 60), session("late", 10, 10)]) == [
        ("long", ["m01", "m02", "m03"])]


def test_no_messages_make_no_groups():
    assert group_by_session([], [session("a", 0, 1)], WINDOW) == []
