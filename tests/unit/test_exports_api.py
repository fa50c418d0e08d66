"""The export routes' answers that need no database, and the thread-to-response bridge of a download."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consumers.export_jobs import INTERRUPTED
from queries.export import format_datetime
from pipeline.core.bots import load_bots
from pipeline.http.app import create_api
from pipeline.http.exports import ThreadedChunks
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "bots.example.toml"
AUTH = {"Authorization": "Bearer demo-api-key-change-me"}


@pytest.fixture
def services(tmp_path) -> Services:
    return Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path), bots=load_bots(EXAMPLE),
                    publisher=MemoryPublisher(), store=None)   # a worker without the store


@pytest.fixture
def client(services):
    with TestClient(create_api(services)) as client:
        yield client


def test_an_unknown_column_is_400_before_the_store_is_asked(client):
    response = client.post("/v1/bots/demo/exports", json={"columns": ["attributes.a b"]}, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_export", "detail": [
        "columns[0]: an attribute key is 1 to 128 letters, digits, '_', '.' or '-', got 'a b'"]}


def test_ids_and_a_filter_together_are_refused(client):
    response = client.post("/v1/bots/demo/exports", json={"user_ids": ["web:1"], "filter": {}}, headers=AUTH)
    assert response.status_code == 422 and "give user_ids or filter, not both" in response.text


def test_a_worker_without_the_store_answers_503(client):
    response = client.post("/v1/bots/demo/exports", json={}, headers=AUTH)
    assert response.status_code == 503 and response.json()["error"] == "no_store"


def test_an_interrupted_job_reads_failed_and_its_download_is_409(client, tmp_path):
    job_id = uuid.uuid4().hex
    folder = tmp_path / "exports" / "demo"
    folder.mkdir(parents=True)
    (folder / f"{job_id}.json").write_text(json.dumps({
        "id": job_id, "bot_id": "demo", "columns": ["user_id"], "total_rows": 20_000, "status": "running",
        "rows_written": 5_000, "error": None, "created_at": format_datetime(datetime.now(UTC)),
        "finished_at": None}))
    status = client.get(f"/v1/bots/demo/exports/{job_id}", headers=AUTH).json()
    assert (status["status"], status["error"], status["progress"], status["download_url"]) == \
        ("failed", INTERRUPTED, 0.25, None)
    download = client.get(f"/v1/bots/demo/exports/{job_id}/download", headers=AUTH)
    assert download.status_code == 409 and download.json() == {
        "error": "not_ready", "detail": f"the export failed: {INTERRUPTED}"}
    assert client.get("/v1/bots/demo/exports", headers=AUTH).json()["exports"][0]["id"] == job_id
    assert client.get(f"/v1/bots/demo/exports/{'f' * 32}", headers=AUTH).status_code == 404
    assert client.get("/v1/bots/demo/exports/..%2F..%2Fsecret", headers=AUTH).status_code == 404


def test_the_bridge_stays_a_few_chunks_ahead_and_a_reader_that_leaves_stops_the_read():
    made, closed = [], threading.Event()

    def chunks():
        try:
            for i in range(1000):
                made.append(i)
                yield b"x" * 10
        finally:
            closed.set()

    async def read_two_then_leave() -> list[bytes]:
        bridge = ThreadedChunks(chunks, depth=4)
        got = [await bridge.next(), await bridge.next()]
        await asyncio.sleep(0.2)
        ahead = len(made)
        bridge.stop()
        return got, ahead

    got, ahead = asyncio.run(read_two_then_leave())
    assert got == [b"x" * 10] * 2
    assert ahead <= 2 + 4 + 1                      # two taken, four waiting, one in hand
    assert closed.wait(2) and len(made) < 1000


def test_the_bridge_hands_over_every_chunk_then_the_end_or_the_error():
    def failing():
        yield b"a"
        raise RuntimeError("ClickHouse went away")

    async def read_all(make) -> tuple[list[bytes], Exception | None]:
        bridge, got = ThreadedChunks(make), []
        try:
            while (chunk := await bridge.next()) is not None:
                got.append(chunk)
        except RuntimeError as e:
            return got, e
        return got, None

    assert asyncio.run(read_all(lambda: iter([b"a", b"b", b"c"]))) == ([b"a", b"b", b"c"], None)
    got, error = asyncio.run(read_all(failing))
    assert got == [b"a"] and str(error) == "ClickHouse went away"
    started = time.monotonic()
    assert asyncio.run(read_all(lambda: iter([]))) == ([], None) and time.monotonic() - started < 1
