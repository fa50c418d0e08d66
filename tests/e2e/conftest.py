from __future__ import annotations

import uuid

import pytest

from tests.support.ports import free_port
from tests.support.worker import WorkerProcess

ADMIN_KEY = "e2e-admin-key"


def bots_toml(bot_id: str, api_key: str) -> str:
    return f"""
[bots.{bot_id}]
api_key = "{api_key}"
inactivity_minutes = 10
"""


@pytest.fixture
def make_worker(tmp_path):
    """Builds workers on a given broker, each with its own bot, data dir, consumer group and port."""
    workers: list[WorkerProcess] = []

    def make(broker, *, bot_id: str | None = None, app_id: str | None = None, data_dir=None,
             **env) -> WorkerProcess:
        bot_id = bot_id or f"bot{uuid.uuid4().hex[:8]}"
        api_key = f"key-{bot_id}-0123456789"
        bots = tmp_path / f"bots-{bot_id}.toml"
        bots.write_text(bots_toml(bot_id, api_key))
        worker = WorkerProcess({
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "CHATLENS_DATA_DIR": str(data_dir or tmp_path / f"data-{bot_id}"),
            "CHATLENS_BOTS_FILE": str(bots),
            "CHATLENS_HTTP_PORT": str(free_port()),
            "CHATLENS_ADMIN_KEY": ADMIN_KEY,
            "CHATLENS_APP_ID": app_id or f"e2e-{uuid.uuid4().hex[:8]}",
            "CHATLENS_SESSION_TIMEOUT_SECONDS": "6",
            "CHATLENS_SINK_BATCH_SECONDS": "0.2",
            **env,
        }, tmp_path / f"worker-{bot_id}.log")
        worker.bot_id, worker.api_key = bot_id, api_key
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.kill()
