"""Fixtures for the tiers: a real Kafka broker (session-wide) and real ClickHouse SQL on chDB.

chDB opens one engine per process, so the test process uses one chDB path and gives each test
its own database.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.kafka.broker import LocalBroker
from tests.support.ports import free_port_pair

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> LocalBroker:
    broker = LocalBroker(tmp_path_factory.mktemp("kafka"), port=free_port_pair(), partitions=4)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session", autouse=True)
def no_worker_outlives_the_session():
    """A fixture whose set-up failed never reached its own kill(): end every worker a test started."""
    from tests.support.worker import WorkerProcess
    yield
    for worker in WorkerProcess.started:
        worker.kill()


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'data'}"


@pytest.fixture
def clickhouse(chdb_dsn):
    """A migrated, empty database of its own for each test, on the real ClickHouse engine."""
    from consumers.clickhouse import connect

    return connect(chdb_dsn, database=f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
