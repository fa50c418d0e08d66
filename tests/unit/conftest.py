"""The HTTP app of a worker that holds no store, with the publisher's in-memory twin (the example bots)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.core.bots import load_bots
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.http.app import create_api

EXAMPLE_BOTS = Path(__file__).resolve().parents[2] / "bots.example.toml"
DEMO_AUTH = {"Authorization": "Bearer demo-api-key-change-me"}


@pytest.fixture
def services(tmp_path) -> Services:
    return Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path), bots=load_bots(EXAMPLE_BOTS),
                    publisher=MemoryPublisher(), store=None)


@pytest.fixture
def client(services):
    with TestClient(create_api(services)) as client:
        yield client
