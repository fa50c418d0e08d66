"""One user's detail, sessions, transcript and sentiment history on real ClickHouse SQL (chDB).

The user is folded from real events by the pipeline's own projection and written by the sink's store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumers.clickhouse import ClickHouseProjectionStore
from pipeline.core.projection import rebuild_rows
from queries import users
from schemas.events import parse_event

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestOneUser:
    """Detail, sessions, transcript and sentiment history of a user folded from real events by the pipeline."""

    WINDOW = timedelta(minutes=10)

    @pytest.fixture
    def zoe(self, clickhouse):
        def event(n: int, kind: str, time: str, **fields) -> object:
            return parse_event({"kind": kind, "event_id": f"e{n}", "bot_id": "demo", "user_id": "web:zoe",
                                "occurred_at": f"2026-02-10T{time}Z", **fields})

        def says(n: int, time: str, direction: str, text: str) -> object:
            return event(n, "message", time, direction=direction, text=text)

        events = [
            says(1, "10:00:00", "outbound", "Welcome!"),
            event(2, "profile_update", "10:00:05", profile={"name": "Zoe", "country": "Poland"}),
            says(3, "10:00:10", "inbound", "hi 😀"),
            event(4, "button_click", "10:01:00", button_type="url", url="https://shop.example"),
            says(5, "10:02:00", "inbound", "so slow"),
            says(6, "10:05:00", "outbound", "sorry about that"),
            says(7, "10:30:00", "outbound", "still there?"),
            says(8, "11:00:00", "inbound", "ok 😀"),
            says(9, "11:00:30", "outbound", "great"),
            event(10, "tag_added", "11:01:00", tag="vip"),
            event(11, "attribute_set", "11:01:00", key="plan", value="pro"),
            event(12, "segment_added", "11:01:00", segment="Newsletter"),
        ]
        rows = rebuild_rows(events, score=lambda text: 0.5 if "😀" in text else -0.5, window=self.WINDOW,
                            grace=timedelta(hours=1))
        ClickHouseProjectionStore(clickhouse).write(rows)
        return clickhouse

    def test_the_detail_has_profile_metrics_attributes_tags_segments_and_last_session(self, zoe):
        user = users.get_user(zoe, "demo", "web:zoe")
        assert (user["profile"]["name"], user["profile"]["country"], user["channels"], user["banned"]) == \
               ("Zoe", "Poland", ["web"], False)
        metrics = user["metrics"]
        assert (metrics["sessions"], metrics["messages_sent"], metrics["clicks"], metrics["time_spent_seconds"]) == \
               (2, 3, 1, 110.0)
        assert metrics["avg_sentiment"] == pytest.approx(0.5 / 3)
        assert (metrics["first_seen"], metrics["last_seen"]) == (at("2026-02-10T10:00:10"), at("2026-02-10T11:00"))
        assert (user["attributes"], user["tags"], user["segments"]) == ({"plan": "pro"}, ["vip"], ["Newsletter"])
        assert user["last_session"]["started_at"] == at("2026-02-10T11:00")
        assert user["last_session"]["messages"] == 1

    def test_sessions_come_oldest_first(self, zoe):
        found = users.sessions(zoe, "demo", "web:zoe")
        assert [(s["started_at"], s["ended_at"], s["interactions"], s["messages"], s["clicks"]) for s in found] == [
            (at("2026-02-10T10:00:10"), at("2026-02-10T10:02"), 3, 2, 1),
            (at("2026-02-10T11:00"), at("2026-02-10T11:00"), 1, 1, 0)]

    def test_the_transcript_groups_messages_by_session_and_keeps_late_bot_replies_with_it(self, zoe):
        groups = users.transcript(zoe, "demo", "web:zoe", window=self.WINDOW)
        sessions = users.sessions(zoe, "demo", "web:zoe")
        assert [(g["session"], [m["text"] for m in g["messages"]]) for g in groups] == [
            (None, ["Welcome!"]),
            (sessions[0], ["hi 😀", "so slow", "sorry about that"]),
            (None, ["still there?"]),
            (sessions[1], ["ok 😀", "great"])]
        assert [m["sentiment"] for m in groups[1]["messages"]] == [0.5, -0.5, None]

    def test_the_sentiment_history_scores_every_inbound_message(self, zoe):
        history = users.sentiment_history(zoe, "demo", "web:zoe")
        assert [(h["text"], h["sentiment"], h["occurred_at"]) for h in history] == [
            ("hi 😀", 0.5, at("2026-02-10T10:00:10")), ("so slow", -0.5, at("2026-02-10T10:02")),
            ("ok 😀", 0.5, at("2026-02-10T11:00"))]

    def test_nothing_is_read_across_bots_or_for_unknown_users(self, zoe):
        assert users.get_user(zoe, "other", "web:zoe") is None
        assert users.sessions(zoe, "other", "web:zoe") == []
        assert users.transcript(zoe, "other", "web:zoe", window=self.WINDOW) == []
        assert users.sentiment_history(zoe, "demo", "web:nobody") == []
