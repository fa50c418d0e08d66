"""`chatlens ingest` as an operator runs it beside (or before) the workers: webhooks into Kafka, no store."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from pipeline.core.signatures import signed_request
from pipeline.kafka import topics
from pipeline.kafka.broker import LocalBroker
from pipeline.kafka.topic_reader import read_to_end
from tests.e2e.conftest import CHANNEL_SECRETS, bots_toml
from tests.support.ports import free_port, free_port_pair
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.e2e
BOT, KEY = "ingestbot", "key-ingestbot-0123456789"


def update(n: int) -> dict:
    return {"update_id": n, "message": {"message_id": n, "date": 1767261600 + n, "chat": {"id": 4200 + n, "type": "private"},
                                        "from": {"id": 4200 + n, "is_bot": False, "first_name": "Ann"}, "text": f"hi {n}"}}


def telegram(process: WorkerProcess, n: int, *, forged: bool = False) -> httpx.Response:
    body, headers = signed_request("telegram", update(n), CHANNEL_SECRETS["telegram"], now=datetime.now(UTC))
    if forged:
        headers["X-Telegram-Bot-Api-Secret-Token"] = "not-the-secret"
    return httpx.post(f"{process.url}/webhooks/telegram/{BOT}", content=body, headers=headers, timeout=30)


@pytest.fixture
def make_ingest(tmp_path):
    """Ingest processes on a broker; `port` lets several share one."""
    started: list[WorkerProcess] = []
    (tmp_path / "bots.toml").write_text(bots_toml(BOT, KEY))

    def make(broker, port: int | None = None, **env) -> WorkerProcess:
        process = WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_BOTS_FILE": str(tmp_path / "bots.toml"),
                                 "CHATLENS_DATA_DIR": str(tmp_path / "data"), "CHATLENS_INGEST_PORT": str(port or free_port()),
                                 **env}, tmp_path / f"ingest-{len(started)}.log", command=("ingest",))
        started.append(process)
        return process.start()

    yield make
    for process in started:
        process.stop()


def event_ids_in_kafka(broker) -> list[str]:
    records = asyncio.run(read_to_end(broker.bootstrap, topics.EVENTS))
    return sorted(r.key.decode() + "|" + r.value.decode().split('"event_id":"')[1].split('"')[0] for r in records
                  if f'"bot_id":"{BOT}"'.encode() in r.value)


def test_an_ingest_process_without_a_worker_takes_signed_webhooks_into_kafka_and_refuses_forged_ones(
        kafka_broker, make_ingest):
    ingest = make_ingest(kafka_broker)
    before = event_ids_in_kafka(kafka_broker)
    accepted = telegram(ingest, 1)
    forged = telegram(ingest, 2, forged=True)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["event_ids"] == ["telegram:4201:1", "telegram:4201:1:profile"]
    assert forged.status_code == 401 and forged.json()["error"] == "unauthenticated"
    added = sorted(set(event_ids_in_kafka(kafka_broker)) - set(before))
    assert [a.split("|")[1] for a in added] == ["telegram:4201:1", "telegram:4201:1:profile"]
    health = httpx.get(f"{ingest.url}/health").json()
    assert health["process"]["role"] == "ingest" and health["clickhouse"]["detail"] == "an ingest process holds no store"
    assert httpx.get(f"{ingest.url}/v1/sql").status_code == 404   # nothing that reads a store is served here


def test_two_ingest_processes_on_one_port_both_serve(kafka_broker, make_ingest):
    port = free_port()
    first, second = make_ingest(kafka_broker, port), make_ingest(kafka_broker, port)
    served = set()
    for _ in range(64):   # each a new connection: the kernel spreads them over both listeners
        served.add(httpx.get(f"{first.url}/health", timeout=10).json()["process"]["pid"])
    assert served == {first.proc.pid, second.proc.pid}
    assert [telegram(first, n).status_code for n in range(10, 20)] == [200] * 10


def test_a_stopped_broker_makes_an_ingest_process_answer_503_never_2xx(tmp_path, make_ingest):
    broker = LocalBroker(tmp_path / "own-kafka", port=free_port_pair())
    broker.start()
    try:
        ingest = make_ingest(broker, CHATLENS_INGEST_TIMEOUT_SECONDS="2")
        assert telegram(ingest, 1).status_code == 200
        broker.stop()
        answers = [telegram(ingest, n) for n in range(2, 5)]
        assert [a.status_code for a in answers] == [503] * 3
        assert answers[0].headers["Retry-After"] == "5" and answers[0].json()["error"] == "kafka_unavailable"
        assert httpx.get(f"{ingest.url}/health", timeout=10).status_code == 503
    finally:
        broker.stop()


def test_ingest_health_reports_how_far_behind_the_stream_is(tmp_path, make_ingest):
    broker = LocalBroker(tmp_path / "own-kafka", port=free_port_pair())
    broker.start()
    try:
        ingest = make_ingest(broker, CHATLENS_APP_ID="behind")
        assert [telegram(ingest, n).status_code for n in range(3)] == [200] * 3   # no worker reads them
        deadline, stream = time.monotonic() + 30, {}
        while time.monotonic() < deadline:
            health = httpx.get(f"{ingest.url}/health", timeout=10)
            stream = health.json()["stream"]
            if stream["groups"].get("behind", {}).get("lag") == 6:
                break
            time.sleep(0.5)
        assert stream["groups"]["behind"]["lag"] == 6   # 3 messages, each with its profile update
        assert stream["behind_seconds"] > 0 and stream["groups"]["behind-sink"]["lag"] == 0
        assert health.status_code == 200   # the ingest process takes events all the same
    finally:
        broker.stop()
