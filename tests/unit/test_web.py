"""The HTTP app with its ports' in-memory twins: every answer and what reaches Kafka."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.memory import MemoryEventStore
from consumers.sink import SinkStatus
from pipeline.core.bots import load_bots
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.http.app import create_api

EXAMPLE = Path(__file__).resolve().parents[2] / "bots.example.toml"
AUTH = {"Authorization": "Bearer demo-api-key-change-me"}
EVENT = {"kind": "message", "event_id": "e1", "user_id": "web:u1", "occurred_at": "2026-11-23T11:00:00Z",
         "direction": "inbound", "text": "hi"}


@pytest.fixture
def services(tmp_path):
    return Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path, CHATLENS_ADMIN_KEY="admin-key"),
                    bots=load_bots(EXAMPLE), publisher=MemoryPublisher(), store=MemoryEventStore(),
                    sinks={"raw_events": SinkStatus()})


@pytest.fixture
def client(services):
    with TestClient(create_api(services)) as client:
        yield client


def test_accepted_events_are_on_kafka_before_the_answer(client, services):
    response = client.post("/v1/bots/demo/events", content=json.dumps(EVENT), headers=AUTH)
    assert response.status_code == 202 and response.json() == {"accepted": 1, "event_ids": ["e1"]}
    assert [(e.bot_id, e.event_id) for e in services.publisher.events] == [("demo", "e1")]


def test_missing_or_wrong_key_is_401_and_nothing_is_published(client, services):
    assert client.post("/v1/bots/demo/events", content=json.dumps(EVENT)).status_code == 401
    wrong = client.post("/v1/bots/demo/events", content=json.dumps(EVENT), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "unauthorized", "detail": "unknown bot or wrong API key"}
    other_bot = client.post("/v1/bots/acme/events", content=json.dumps(EVENT), headers=AUTH)
    assert other_bot.status_code == 401
    assert services.publisher.events == [] and services.publisher.dead_letters == []


def test_invalid_event_is_400_with_reasons_and_kept_as_a_dead_letter(client, services):
    body = json.dumps({**EVENT, "direction": "up"})
    response = client.post("/v1/bots/demo/events", content=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["detail"] == ["message.direction: Input should be 'inbound' or 'outbound' (got 'up')"]
    [letter] = services.publisher.dead_letters
    assert (letter["source"], letter["bot_id"], letter["body"]) == ("events-api", "demo", body)
    assert services.publisher.events == []


def test_kafka_unavailable_is_503_with_retry_after(client, services):
    services.publisher.available = False
    response = client.post("/v1/bots/demo/events", content=json.dumps(EVENT), headers=AUTH)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "kafka_unavailable"


def test_invalid_event_while_kafka_is_down_is_503_so_it_is_not_lost(client, services):
    services.publisher.available = False
    response = client.post("/v1/bots/demo/events", content="{", headers=AUTH)
    assert response.status_code == 503


def test_health_reports_each_part_and_503_when_one_is_down(client, services):
    ok = client.get("/health")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json()["kafka"]["ok"] and ok.json()["clickhouse"]["ok"] and ok.json()["sinks"]["raw_events"]["ok"]
    services.sinks["raw_events"].ok = False
    assert client.get("/health").status_code == 503
    services.sinks["raw_events"].ok = True
    services.publisher.available = False
    down = client.get("/health")
    assert down.status_code == 503 and down.json()["kafka"]["ok"] is False


def test_stored_events_are_listed_for_their_bot_only(client, services):
    client.post("/v1/bots/demo/events", content=json.dumps(EVENT), headers=AUTH)
    services.store.write(services.publisher.events)
    listed = client.get("/v1/bots/demo/events", headers=AUTH).json()["events"]
    assert [e["event_id"] for e in listed] == ["e1"]
    acme = client.get("/v1/bots/acme/events", headers={"Authorization": "Bearer acme-api-key-change-me-too"})
    assert acme.json()["events"] == []


def test_sql_needs_the_admin_key(client):
    assert client.post("/v1/sql", json={"sql": "SELECT 1"}, headers=AUTH).status_code == 401
    assert client.post("/v1/sql", json={"sql": "SELECT 1"},
                       headers={"Authorization": "Bearer admin-key"}).status_code == 501  # no client in unit tests


def test_inactivity_window_starts_from_config_and_changes_at_run_time(client, services):
    assert client.get("/v1/bots/demo/settings", headers=AUTH).json() == {"inactivity_minutes": 10.0}
    changed = client.put("/v1/bots/demo/settings", json={"inactivity_minutes": 30}, headers=AUTH)
    assert changed.status_code == 200 and services.publisher.settings == [("demo", {"inactivity_minutes": 30.0})]
    assert client.get("/v1/bots/demo/settings", headers=AUTH).json() == {"inactivity_minutes": 30.0}
    assert services.window_for("acme").total_seconds() == 30 * 60  # acme's own configuration
    bad = client.put("/v1/bots/demo/settings", json={"inactivity_minutes": 0}, headers=AUTH)
    assert bad.status_code == 422


def test_health_is_degraded_naming_a_crashed_agent_and_a_stalled_partition_then_ok_again(client, services):
    from consumers.sink import SinkStatus
    from pipeline.core.progress import ProgressMonitor
    services.agents["user-projection"] = SinkStatus(ok=False, crashed=True, last_error="RuntimeError: boom")
    services.progress = ProgressMonitor(stall_seconds=5)
    services.progress.observe("chatlens", "chatlens-events", 2, committed=10, end=50, now=-100.0)
    down = client.get("/health")
    assert down.status_code == 503 and down.json()["problems"] == [
        "crashed user-projection: RuntimeError: boom", "not advancing: chatlens chatlens-events[2]"]
    assert down.json()["stream"]["groups"]["chatlens"]["lag"] == 40
    services.agents["user-projection"] = SinkStatus()
    services.progress.observe("chatlens", "chatlens-events", 2, committed=50, end=50, now=0.0)
    up = client.get("/health")
    assert up.status_code == 200 and up.json()["status"] == "ok" and "problems" not in up.json()


def test_the_ingest_app_serves_webhooks_and_events_but_nothing_that_reads_a_store(services):
    from pipeline.core.progress import ProgressMonitor
    from pipeline.http.app import create_ingest_api
    ingest = Services(settings=services.settings, bots=services.bots, publisher=MemoryPublisher(), store=None,
                      role="ingest", progress=ProgressMonitor(stall_seconds=5))
    ingest.progress.observe("chatlens", "chatlens-events", 0, committed=0, end=7, now=-100.0, behind_seconds=99.0)
    with TestClient(create_ingest_api(ingest)) as client:
        assert client.post("/v1/bots/demo/events", content=json.dumps(EVENT), headers=AUTH).status_code == 202
        assert [e.event_id for e in ingest.publisher.events] == ["e1"]
        health = client.get("/health")
        assert health.status_code == 200, health.text   # a stalled stream is reported, not a reason to refuse events
        assert health.json()["stream"]["behind_seconds"] == 99.0 and health.json()["process"]["role"] == "ingest"
        assert client.get("/v1/bots/demo/events", headers=AUTH).status_code == 405   # the stored events: worker only
        assert client.get("/v1/bots/demo/users", headers=AUTH).status_code == 404
        assert client.get("/ui/").status_code == 404
