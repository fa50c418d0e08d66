"""No input stops the stream: large backfills, huge texts and oversized bodies, on a real broker and chDB.

Each repro once crashed the projection agent for good (rows of one user in one record over Kafka's
limit) or was answered 503 for ever (a dead letter too large to keep).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline.kafka.broker import LocalBroker
from pipeline.kafka.dead_letters import Letter, read_letters
from pipeline.core.signatures import signed_request
from schemas.limits import MAX_RECORD_BYTES, MAX_TEXT_CHARS
from tests.e2e.conftest import CHANNEL_SECRETS
from tests.support.ports import free_port_pair
from tests.support.streams import USERS_SQL, as_sql_rows, expected_users

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory):
    """A broker of this module's own: every later test's worker group would otherwise read (and score) these
    megabytes of long texts from the shared events topic."""
    broker = LocalBroker(tmp_path_factory.mktemp("large-kafka"), port=free_port_pair(), partitions=4)
    broker.start()
    yield broker
    broker.stop()

WORDS = ("order", "refund", "hello", "shipping", "broken", "thanks", "😀", "😡", "when", "size", "colour", "¿qué?",
         "Zustellung", "доставка", "配送", "please", "again", "invoice", "address", "lol")
START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
MESSAGES_OF = "SELECT count() FROM messages FINAL WHERE bot_id = {bot:String} AND user_id = {user:String}"


ASCII_WORDS = tuple(w for w in WORDS if w.isascii())


def text(rng: random.Random, chars: int, words: tuple[str, ...] = WORDS) -> str:
    chosen, length = [], 0
    while length < chars:
        chosen.append(rng.choice(words))
        length += len(chosen[-1]) + 1
    return " ".join(chosen)[:chars]


def backfill(bot_id: str, user: str, n: int, chars: int, seed: int) -> list[dict]:
    """One chatty user's history: n inbound messages a few minutes apart (sessions split by long pauses)."""
    rng, at, events = random.Random(seed), START, []
    for i in range(n):
        at += timedelta(minutes=rng.choice((1, 2, 5, 9, 45, 300)))
        events.append({"kind": "message", "event_id": f"{user}-{i}", "bot_id": bot_id, "user_id": user,
                       "occurred_at": at.isoformat(), "direction": "inbound", "text": text(rng, chars)})
    return events


def small_users(bot_id: str, n: int) -> list[dict]:
    return [{"kind": "message", "event_id": f"small-{u}-{m}", "bot_id": bot_id, "user_id": f"web:small-{u}",
             "occurred_at": (START + timedelta(minutes=3 * m + u)).isoformat(), "direction": "inbound",
             "text": f"hi {u} {m} 👍"} for u in range(n) for m in range(2)]


def post_events(worker, events: list[dict]) -> httpx.Response:
    return httpx.post(f"{worker.url}/v1/bots/{worker.bot_id}/events", timeout=60,
                      content="\n".join(json.dumps(e, ensure_ascii=False) for e in events).encode(),
                      headers={"Authorization": f"Bearer {worker.api_key}", "Content-Type": "application/x-ndjson"})


def letters_of(worker) -> list[Letter]:
    return [letter for letter in asyncio.run(read_letters(worker.bootstrap, 100_000))
            if letter.record.get("bot_id") == worker.bot_id]


def webhook(worker, channel: str, payload: dict) -> httpx.Response:
    body, headers = signed_request(channel, payload, CHANNEL_SECRETS[channel], now=datetime.now(UTC))
    return httpx.post(f"{worker.url}/webhooks/{channel}/{worker.bot_id}", content=body, headers=headers, timeout=60)


def test_a_backfill_of_one_chatty_user_then_200_small_users_are_all_exact(kafka_broker, make_worker):
    worker = make_worker(kafka_broker, CHATLENS_STREAM_BATCH_SIZE="1000").start()
    chatty = backfill(worker.bot_id, "web:chatty", 1000, 4000, seed=3)
    response = post_events(worker, chatty)
    assert response.status_code == 202 and response.json()["accepted"] == 1000, response.text
    others = small_users(worker.bot_id, 200)
    for start in range(0, len(others), 100):
        assert post_events(worker, others[start:start + 100]).status_code == 202

    expected = as_sql_rows(expected_users(chatty + others))
    got = worker.wait_for(USERS_SQL, expected, timeout=120, bot=worker.bot_id)
    assert got == expected, worker.log_tail()
    assert worker.sql(MESSAGES_OF, bot=worker.bot_id, user="web:chatty") == [[1000]]
    assert [r for r in got if r[0] == "web:chatty"][0][3] == 1000  # messages_sent
    assert "Crashed" not in worker.log_tail(200_000)


def test_one_signed_web_webhook_of_16_texts_of_65000_characters_is_stored_whole(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    rng = random.Random(5)
    payload = {"site_id": "site_demo", "events": [
        {"id": f"evt_{i}", "type": "message.created", "occurred_at": (START + timedelta(minutes=i)).isoformat(),
         "visitor": {"id": "vis_big"}, "message": {"id": f"msg_{i}", "direction": "inbound",
                                                   "text": text(rng, 65_000, ASCII_WORDS)}} for i in range(16)]}
    response = webhook(worker, "web", payload)
    assert response.status_code == 200 and response.json()["accepted"] == 16, response.text
    after = small_users(worker.bot_id, 3)
    assert post_events(worker, after).status_code == 202
    assert worker.wait_for(MESSAGES_OF, [[16]], timeout=60, bot=worker.bot_id, user="web:vis_big") == [[16]], \
        worker.log_tail()
    rows = worker.wait_for("SELECT user_id, messages_sent, sessions FROM users FINAL WHERE bot_id = {bot:String} "
                           "ORDER BY user_id", [["web:small-0", 2, 1], ["web:small-1", 2, 1], ["web:small-2", 2, 1],
                                                ["web:vis_big", 16, 1]], timeout=60, bot=worker.bot_id)
    assert rows == [["web:small-0", 2, 1], ["web:small-1", 2, 1], ["web:small-2", 2, 1], ["web:vis_big", 16, 1]]
    [[length]] = worker.sql("SELECT max(length(text)) FROM messages WHERE bot_id = {bot:String}", bot=worker.bot_id)
    assert length == 65_000


def test_a_telegram_text_over_the_limit_is_413_naming_it_and_kept_as_a_dead_letter(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    update = {"update_id": 991_001, "message": {"message_id": 7, "date": int(START.timestamp()),
                                                "from": {"id": 4242, "is_bot": False, "first_name": "Big"},
                                                "chat": {"id": 4242, "type": "private"}, "text": "x" * 600_000}}
    response = webhook(worker, "telegram", update)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "too_large"
    assert f"{MAX_TEXT_CHARS:,} characters" in json.dumps(response.json()["detail"])
    [letter] = letters_of(worker)
    assert letter.record["source"] == "webhook:telegram" and "text" in letter.record["reason"][0]
    assert json.loads(letter.body)["message"]["text"] == "x" * 600_000  # 600 KB fits: kept whole, once
    assert not letter.record.get("body_truncated")


def test_an_events_batch_over_a_megabyte_is_accepted_and_an_invalid_one_kept_truncated(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    batch = backfill(worker.bot_id, "web:batch", 300, 4000, seed=8)  # about 1.3 MB
    response = post_events(worker, batch)
    assert response.status_code == 202 and response.json()["accepted"] == 300, response.text
    assert worker.wait_for(MESSAGES_OF, [[300]], timeout=60, bot=worker.bot_id, user="web:batch") == [[300]]

    broken = backfill(worker.bot_id, "web:broken", 300, 4000, seed=9)
    broken[150]["direction"] = "sideways"
    response = post_events(worker, broken)
    assert response.status_code == 400 and "event 150: message.direction" in response.json()["detail"][0]
    [letter] = letters_of(worker)
    assert letter.record["body_truncated"] is True and letter.record["body_bytes"] > MAX_RECORD_BYTES
    assert "event 150: message.direction" in letter.record["reason"][0]


def health(worker) -> httpx.Response:
    return httpx.get(f"{worker.url}/health", timeout=10)


def wait_health(worker, status: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = health(worker)
        if response.status_code == status or time.monotonic() > deadline:
            return response.json() | {"_status": response.status_code}
        time.sleep(0.5)


def test_health_names_a_partition_that_does_not_advance_and_turns_ok_once_it_does(kafka_broker, make_worker,
                                                                                  tmp_path):
    """No worker holds the store: the sink group never advances, and /health says so, then recovers."""
    stream_only = make_worker(kafka_broker, CHATLENS_SINK="false", CHATLENS_STALL_SECONDS="5",
                              CHATLENS_WORKER_NAME="stream").start()
    assert post_events(stream_only, small_users(stream_only.bot_id, 5)).status_code == 202
    degraded = wait_health(stream_only, 503)
    assert degraded["_status"] == 503, degraded
    assert any(p.startswith(f"not advancing: {stream_only.env['CHATLENS_APP_ID']}-sink ")
               for p in degraded["problems"]), degraded

    store = make_worker(kafka_broker, bot_id=stream_only.bot_id, api_key=stream_only.api_key,
                        app_id=stream_only.env["CHATLENS_APP_ID"], data_dir=tmp_path / "store-data",
                        CHATLENS_STALL_SECONDS="5", CHATLENS_WORKER_NAME="store")
    store.start(timeout=180)
    recovered = wait_health(stream_only, 200, timeout=180)
    assert recovered["_status"] == 200 and recovered["status"] == "ok", recovered
    assert store.wait_for("SELECT count() FROM users FINAL WHERE bot_id = {bot:String}", [[5]],
                          bot=store.bot_id) == [[5]]


def test_sigterm_ends_the_worker_in_bounded_time_with_records_pending(tmp_path, make_worker):
    broker = LocalBroker(tmp_path / "own-kafka", port=free_port_pair())
    broker.start()
    try:
        worker = make_worker(broker, CHATLENS_SHUTDOWN_SECONDS="10", CHATLENS_INGEST_TIMEOUT_SECONDS="2").start()
        assert post_events(worker, small_users(worker.bot_id, 20)).status_code == 202
        broker.stop()  # whatever the worker still has to send or commit now waits for a broker that is gone
        assert wait_health(worker, 503)["_status"] == 503
        began = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(timeout=40)
        assert time.monotonic() - began < 25, worker.log_tail()
    finally:
        broker.stop()
