"""Telegram redelivers an unconfirmed update for up to a day: a copy that comes after the user's later days
counts once, through the worker as a process, and again after kill -9 between the copies."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline.core.signatures import signed_request
from schemas.channels import PARSERS
from tests.e2e.conftest import CHANNEL_SECRETS
from tests.e2e.test_stream_processing import rebuild_check
from tests.support.streams import USERS_SQL, as_sql_rows, expected_users

pytestmark = pytest.mark.e2e

DAY1 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TEXTS = ["hi", "where is my order? 😡", "thanks 😍", "ok", "still waiting...", "great, got it 👍"]
SESSIONS_SQL = "SELECT count() FROM sessions FINAL WHERE bot_id = {bot:String} AND NOT is_deleted"
MESSAGES_SQL = "SELECT count() FROM messages FINAL WHERE bot_id = {bot:String} AND NOT is_deleted"


def day_of_updates(day: int, chat_id: int) -> list[dict]:
    """Two sessions of three messages on day `day` (0, 1, 2) of one Telegram user."""
    updates = []
    for session, start in enumerate((timedelta(hours=1), timedelta(hours=6))):
        for n in range(3):
            at = DAY1 + timedelta(days=day) + start + timedelta(minutes=2 * n)
            message_id = 100 * day + 10 * session + n
            updates.append({"update_id": 1000 * chat_id + message_id, "message": {
                "message_id": message_id, "date": int(at.timestamp()), "text": TEXTS[(day + n) % len(TEXTS)],
                "from": {"id": chat_id, "is_bot": False, "first_name": "Ola", "language_code": "pl"},
                "chat": {"id": chat_id, "type": "private"}}})
    return updates


def deliver(worker, updates: list[dict]) -> None:
    """Every update until the worker answers 200 (a restarting worker refuses connections for a moment)."""
    for update in updates:
        for _ in range(120):
            body, headers = signed_request("telegram", update, CHANNEL_SECRETS["telegram"], now=datetime.now(UTC))
            try:
                response = httpx.post(f"{worker.url}/webhooks/telegram/{worker.bot_id}", content=body,
                                      headers=headers, timeout=30)
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"update {update['update_id']} not accepted: {worker.log_tail()}")


def distinct_events(worker, updates: list[dict]) -> list[dict]:
    events = {}
    for update in updates:
        for event in PARSERS["telegram"](update, bot_id=worker.bot_id, received_at=datetime.now(UTC)):
            events[event.event_id] = event.model_dump(mode="json")
    return list(events.values())


def assert_shows_the_batch(worker, updates: list[dict]) -> None:
    expected = expected_users(distinct_events(worker, updates))
    got = worker.wait_for(USERS_SQL, as_sql_rows(expected), timeout=60, bot=worker.bot_id)
    assert got == as_sql_rows(expected), worker.log_tail()
    assert worker.sql(SESSIONS_SQL, bot=worker.bot_id) == [[sum(u["sessions"] for u in expected.values())]]
    assert worker.sql(MESSAGES_SQL, bot=worker.bot_id) == [[sum(u["messages_sent"] for u in expected.values())]]


def test_copies_delivered_after_later_days_count_once_also_across_kill_9(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    days = {user: [day_of_updates(day, user) for day in range(3)] for user in (42, 43)}
    every = [u for user in days.values() for day in user for u in day]
    first, second, third = ([u for user in days.values() for u in user[day]] for day in range(3))

    deliver(worker, first + second)
    deliver(worker, first)             # day 1 again, a day after the users moved on
    deliver(worker, third)
    deliver(worker, second)            # day 2 again, after day 3
    assert_shows_the_batch(worker, every)
    expected = expected_users(distinct_events(worker, every))
    assert {u["sessions"] for u in expected.values()} == {6} and {u["messages_sent"] for u in expected.values()} == {18}

    deliver(worker, third + first)     # the copies keep coming ...
    worker.kill(signal.SIGKILL)        # ... and the worker dies while it folds them
    worker.start()
    deliver(worker, third + second + first)
    assert_shows_the_batch(worker, every)
    assert rebuild_check(worker, worker.bot_id)["differences"] == {"users": 0, "sessions": 0, "messages": 0}
