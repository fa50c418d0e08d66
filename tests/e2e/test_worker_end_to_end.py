"""The whole foundation as an operator runs it: a real broker, `chatlens worker` as a process, HTTP in."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import httpx
import pytest

from pipeline.kafka.broker import LocalBroker
from tests.support.ports import free_port_pair

pytestmark = pytest.mark.e2e

COUNT = "SELECT count(), uniqExact(event_id) FROM events WHERE bot_id = {bot:String}"


def events(bot_id: str, start: int, n: int) -> bytes:
    lines = [json.dumps({"kind": "message", "event_id": f"m{i}", "bot_id": bot_id, "user_id": f"web:u{i % 7}",
                         "occurred_at": f"2026-01-01T10:{i % 60:02d}:{i % 59:02d}Z", "direction": "inbound",
                         "text": f"message {i} 😀"}) for i in range(start, start + n)]
    return "\n".join(lines).encode()


def post(worker, body: bytes, timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{worker.url}/v1/bots/{worker.bot_id}/events", content=body, timeout=timeout,
                      headers={"Authorization": f"Bearer {worker.api_key}", "Content-Type": "application/x-ndjson"})


def test_posted_events_reach_clickhouse_once_across_kill_and_restart(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    for start in (0, 100, 200):
        response = post(worker, events(worker.bot_id, start, 100))
        assert response.status_code == 202, response.text
        assert response.json()["accepted"] == 100
    worker.kill(signal.SIGKILL)  # immediately: some batches unwritten, offsets uncommitted

    worker.start()
    assert worker.wait_for(COUNT, [[300, 300]], bot=worker.bot_id) == [[300, 300]], worker.log_tail()
    worker.kill(signal.SIGKILL)  # everything stored, but offsets may be uncommitted: replay must not duplicate

    worker.start()
    assert post(worker, events(worker.bot_id, 0, 300)).status_code == 202  # a client retrying everything
    assert post(worker, events(worker.bot_id, 300, 10)).status_code == 202
    assert worker.wait_for(COUNT, [[310, 310]], bot=worker.bot_id) == [[310, 310]], worker.log_tail()


def test_an_event_is_readable_in_clickhouse_through_the_api(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    assert post(worker, events(worker.bot_id, 0, 1)).status_code == 202
    rows = worker.wait_for("SELECT event_id, kind, channel, user_id FROM events WHERE bot_id = {bot:String}",
                           [["m0", "message", "web", "web:u0"]], bot=worker.bot_id)
    assert rows == [["m0", "message", "web", "web:u0"]], worker.log_tail()
    listed = httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/events",
                       headers={"Authorization": f"Bearer {worker.api_key}"}).json()["events"]
    assert [(e["event_id"], e["text"], e["occurred_at"]) for e in listed] == [("m0", "message 0 😀",
                                                                                 "2026-01-01T10:00:00Z")]


def test_the_users_state_opens_rocksdb_with_bounded_write_buffers(kafka_broker, make_worker):
    """Faust's defaults (3 x 64 MiB per partition, a 2 GiB block cache) let memory grow with the users held."""
    worker = make_worker(kafka_broker).start()
    assert post(worker, events(worker.bot_id, 0, 1)).status_code == 202
    assert worker.wait_for(COUNT, [[1, 1]], bot=worker.bot_id) == [[1, 1]], worker.log_tail()
    options = sorted(Path(worker.env["CHATLENS_DATA_DIR"]).glob("workers/worker/*/tables/user-projection-*.db/OPTIONS-*"))
    assert {path.parent.name for path in options} == {f"user-projection-{p}.db" for p in range(4)}
    for path in options:
        text = path.read_text()
        assert re.search(r"^\s*write_buffer_size=16777216$", text, re.M), path
        assert re.search(r"^\s*max_write_buffer_number=2$", text, re.M), path


def test_stopped_kafka_makes_ingestion_answer_503_and_health_degraded(tmp_path, make_worker):
    broker = LocalBroker(tmp_path / "own-kafka", port=free_port_pair())
    broker.start()
    try:
        worker = make_worker(broker, CHATLENS_INGEST_TIMEOUT_SECONDS="2").start()
        assert post(worker, events(worker.bot_id, 0, 1)).status_code == 202
        broker.stop()
        response = post(worker, events(worker.bot_id, 1, 1))
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "kafka_unavailable"
        health = httpx.get(f"{worker.url}/health", timeout=10)
        assert health.status_code == 503 and health.json()["kafka"]["ok"] is False
    finally:
        broker.stop()


def test_openapi_document_lists_the_foundation_endpoints(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    paths = httpx.get(f"{worker.url}/openapi.json").json()["paths"]
    assert {"/health", "/v1/bots/{bot_id}/events", "/v1/sql"} <= set(paths)
