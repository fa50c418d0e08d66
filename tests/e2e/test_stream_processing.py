"""The stream processors on a real broker and chDB: streamed users equal the batch recomputation,
through kill -9 at random points and with two workers sharing the partitions."""

from __future__ import annotations

import json
import random
import signal
import time

import httpx
import pytest
from kafka import KafkaAdminClient

from tests.support.streams import USERS_SQL, as_sql_rows, expected_users, ndjson, traffic

pytestmark = pytest.mark.e2e


def post(worker, events: list[dict], bot_id: str, api_key: str) -> None:
    for attempt in range(30):
        try:
            response = httpx.post(f"{worker.url}/v1/bots/{bot_id}/events", content=ndjson(events), timeout=30,
                                  headers={"Authorization": f"Bearer {api_key}"})
            if response.status_code == 202:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"events not accepted: {worker.log_tail()}")


def chunks(events: list[dict], size: int) -> list[list[dict]]:
    return [events[i:i + size] for i in range(0, len(events), size)]


def assert_users_equal_batch(worker, bot_id: str, events: list[dict], timeout: float = 60) -> None:
    expected = as_sql_rows(expected_users(events))
    got = worker.wait_for(USERS_SQL, expected, timeout=timeout, bot=bot_id)
    assert got == expected, worker.log_tail()


def rebuild_check(worker, bot_id: str = "") -> dict:
    """The rebuild's report; with bot_id, differences of that bot only (the shared broker holds other tests' bots)."""
    with httpx.stream("POST", f"{worker.url}/v1/admin/rebuild", timeout=120, params={"bot": bot_id},
                      headers={"Authorization": f"Bearer {worker.admin_key}"}) as response:
        lines = [json.loads(line) for line in response.iter_lines()]
    return lines[-1]["report"]


def test_streamed_users_equal_the_batch_recomputation_and_rebuild_finds_no_difference(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    events = traffic(worker.bot_id, users=40, seed=1)
    for chunk in chunks(events, 50):
        post(worker, chunk, worker.bot_id, worker.api_key)
    assert_users_equal_batch(worker, worker.bot_id, events)
    report = rebuild_check(worker, worker.bot_id)
    assert report["users"] == 40
    assert report["differences"] == {"users": 0, "sessions": 0, "messages": 0}


def test_kill_9_at_random_points_loses_and_double_counts_nothing(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    events = traffic(worker.bot_id, users=30, seed=2)
    rng = random.Random(7)
    for chunk in chunks(events, 25):
        post(worker, chunk, worker.bot_id, worker.api_key)
        if rng.random() < 0.35:
            time.sleep(rng.uniform(0, 1.5))  # somewhere in: processing, row publishing, sink writing
            worker.kill(signal.SIGKILL)
            worker.start()
    assert_users_equal_batch(worker, worker.bot_id, events)
    assert rebuild_check(worker, worker.bot_id)["differences"] == {"users": 0, "sessions": 0, "messages": 0}


def group_members(bootstrap: str, group: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return len(admin.describe_groups([group])[group]["members"])
    finally:
        admin.close()


def test_two_workers_split_partitions_and_one_finishes_when_the_other_is_killed(kafka_broker, make_worker, tmp_path):
    owner = make_worker(kafka_broker, app_id="e2e-pair").start()  # holds chDB and runs the sink
    helper = make_worker(kafka_broker, app_id="e2e-pair", bot_id=owner.bot_id,
                         CHATLENS_SINK="false", CHATLENS_WORKER_NAME="helper").start()
    deadline = time.monotonic() + 60
    while group_members(kafka_broker.bootstrap, "e2e-pair") < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert group_members(kafka_broker.bootstrap, "e2e-pair") == 2
    events = traffic(owner.bot_id, users=30, seed=3)
    parts = chunks(events, 25)
    half = len(parts) // 2
    for i, chunk in enumerate(parts):  # both take webhooks until the helper dies mid-stream
        post(helper if i % 2 == 0 and i <= half else owner, chunk, owner.bot_id, owner.api_key)
        if i == half:
            helper.kill(signal.SIGKILL)
    assert_users_equal_batch(owner, owner.bot_id, events, timeout=180)  # takeover waits out the session


def messages_apart(bot_id: str, user: str, minutes: int, n: int = 3) -> list[dict]:
    return [{"kind": "message", "event_id": f"{user}-{i}", "bot_id": bot_id, "user_id": user, "direction": "inbound",
             "occurred_at": f"2026-11-02T{10 + i * minutes // 60:02d}:{i * minutes % 60:02d}:00Z", "text": "hi"}
            for i in range(n)]


def test_inactivity_window_changed_at_run_time_applies_to_later_events_and_survives_restart(kafka_broker,
                                                                                             make_worker):
    worker = make_worker(kafka_broker).start()
    auth = {"Authorization": f"Bearer {worker.api_key}"}
    sessions = "SELECT sessions FROM users FINAL WHERE bot_id = {bot:String} AND user_id = {user:String}"
    post(worker, messages_apart(worker.bot_id, "web:before", 30), worker.bot_id, worker.api_key)
    assert worker.wait_for(sessions, [[3]], bot=worker.bot_id, user="web:before") == [[3]]

    changed = httpx.put(f"{worker.url}/v1/bots/{worker.bot_id}/settings", json={"inactivity_minutes": 45},
                        headers=auth)
    assert changed.status_code == 200
    post(worker, messages_apart(worker.bot_id, "web:after", 30), worker.bot_id, worker.api_key)
    assert worker.wait_for(sessions, [[1]], bot=worker.bot_id, user="web:after") == [[1]]

    worker.kill(signal.SIGTERM)
    worker.start()
    deadline = time.monotonic() + 20  # the worker reads the settings topic from the beginning as it starts
    while httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/settings", headers=auth).json() != \
            {"inactivity_minutes": 45.0}:
        assert time.monotonic() < deadline, "the changed window did not survive the restart"
        time.sleep(0.2)
    post(worker, messages_apart(worker.bot_id, "web:restarted", 30), worker.bot_id, worker.api_key)
    assert worker.wait_for(sessions, [[1]], bot=worker.bot_id, user="web:restarted") == [[1]]
