"""Each platform's documented payloads, signed, through a real worker into Kafka and ClickHouse."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from kafka import KafkaProducer

from pipeline.kafka import topics
from pipeline.core.signatures import signed_request
from pipeline.core.ingest import decode_body
from schemas.channels import PARSERS
from schemas.events import parse_event
from tests.e2e.conftest import CHANNEL_SECRETS
from tests.support.channel_examples import EXAMPLES
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e


def send(worker, channel: str, payload: dict) -> tuple[httpx.Response, bytes, dict]:
    body, headers = signed_request(channel, payload, CHANNEL_SECRETS[channel], now=datetime.now(UTC))
    response = httpx.post(f"{worker.url}/webhooks/{channel}/{worker.bot_id}", content=body, headers=headers,
                          timeout=30)
    return response, body, headers


def stored(worker) -> list[dict]:
    response = httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/events",
                         headers={"Authorization": f"Bearer {worker.api_key}"}, timeout=30)
    return response.json()["events"]


def wait_stored(worker, n: int) -> list[dict]:
    rows = worker.wait_for("SELECT count() FROM events WHERE bot_id = {bot:String}", [[n]], bot=worker.bot_id)
    assert rows == [[n]], worker.log_tail()
    return stored(worker)


def test_documented_payloads_reach_clickhouse_field_by_field_and_retries_count_once(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    expected = {}
    for channel, examples in EXAMPLES.items():
        for payload in examples:
            response, body, headers = send(worker, channel, payload)
            assert response.status_code == 200, (channel, response.text)
            for _ in range(2):  # the platform retries the same delivery: nothing new downstream
                assert send(worker, channel, payload)[0].status_code == 200
            for event in PARSERS[channel](decode_body(body, headers["Content-Type"]), bot_id=worker.bot_id,
                                          received_at=datetime.now(UTC)):
                expected[event.event_id] = event
    rows = wait_stored(worker, len(expected))
    assert len(rows) == len(expected) > 10
    for row in rows:
        got, want = parse_event(row), expected[row["event_id"]]
        assert got.model_dump(exclude={"received_at", "occurred_at"}) == \
            want.model_dump(exclude={"received_at", "occurred_at"})
        if want.occurred_at != want.received_at:  # events with a platform time keep it exactly
            assert got.occurred_at == want.occurred_at or got.occurred_at == got.received_at


def run_cli(worker, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAFKA_BOOTSTRAP": worker.bootstrap}
    return subprocess.run([CHATLENS, *args], env=env, capture_output=True, text=True, timeout=120)


def test_malformed_payload_is_kept_listed_and_a_fixed_letter_replays_into_clickhouse(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    response, body, _ = send(worker, "telegram", {"update_id": "seven", "message": {"chat": {}}})
    assert response.status_code == 400
    listing = run_cli(worker, "dlq", "list", "--limit", "100000")
    assert listing.returncode == 0, listing.stderr
    assert "webhook:telegram" in listing.stdout and worker.bot_id in listing.stdout

    # A letter whose body parses (as after a parser fix) replays into the pipeline, once.
    good = EXAMPLES["web"][0]
    raw, headers = signed_request("web", good, CHANNEL_SECRETS["web"], now=datetime.now(UTC))
    letter = {"source": "webhook:web", "bot_id": worker.bot_id, "reason": ["test"],
              "received_at": datetime.now(UTC).isoformat(), "headers": {"content-type": "application/json"},
              "body": raw.decode(), "marker": uuid.uuid4().hex}
    producer = KafkaProducer(bootstrap_servers=worker.bootstrap)
    producer.send(topics.DEAD_LETTERS, json.dumps(letter).encode()).get(timeout=30)
    producer.close()
    letters = run_cli(worker, "dlq", "list", "--limit", "100000").stdout
    ids = [line.split()[1] for line in letters.splitlines() if worker.bot_id in line and "test" in line]
    assert len(ids) == 1, letters
    shown = run_cli(worker, "dlq", "show", ids[0])
    assert shown.returncode == 0 and json.loads(shown.stdout)["marker"] == letter["marker"]
    for _ in range(2):
        replay = run_cli(worker, "dlq", "replay", ids[0])
        assert replay.returncode == 0 and "replayed 1 letter(s)" in replay.stdout, replay.stdout + replay.stderr
    n = len(PARSERS["web"](good, bot_id=worker.bot_id, received_at=datetime.now(UTC)))
    assert len(wait_stored(worker, n)) == n


def test_demo_command_populates_every_channel(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()  # a bot of its own: the shared topic holds other tests' "demo"
    result = subprocess.run([CHATLENS, "demo", "--bot", worker.bot_id, "--users", "15", "--seed", "4",
                             "--url", worker.url], env={**os.environ, "CHATLENS_BOTS_FILE": str(worker.bots_file)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    accepted = int(re.search(r"(\d+) of (\d+) events accepted", result.stdout).group(1))
    count = "SELECT count() FROM events WHERE bot_id = {bot:String}"
    assert worker.wait_for(count, [[accepted]], timeout=30, bot=worker.bot_id) == [[accepted]]
    channels = worker.sql("SELECT groupUniqArray(channel) FROM events WHERE bot_id = {bot:String}", bot=worker.bot_id)
    assert sorted(channels[0][0]) == ["livechat", "messenger", "slack", "telegram", "web"]
