from __future__ import annotations

import uuid

import pytest

from tests.support.ports import free_port
from tests.support.worker import WorkerProcess

ADMIN_KEY = "e2e-admin-key"


CHANNEL_SECRETS = {  # the demo bot's, from bots.example.toml
    "telegram": {"secret_token": "demo-telegram-secret"},
    "messenger": {"app_secret": "demo-messenger-app-secret", "verify_token": "demo-messenger-verify"},
    "livechat": {"secret_key": "demo-livechat-secret"},
    "slack": {"signing_secret": "demo-slack-signing-secret"},
    "web": {"signing_key": "whsec_ZGVtby13ZWItd2lkZ2V0LXNpZ25pbmcta2V5"},
}


def bots_toml(bot_id: str, api_key: str) -> str:
    tables = [f'[bots.{bot_id}]\napi_key = "{api_key}"\ninactivity_minutes = 10']
    for channel, secrets in CHANNEL_SECRETS.items():
        tables.append(f"[bots.{bot_id}.{channel}]\n" + "\n".join(f'{k} = "{v}"' for k, v in secrets.items()))
    return "\n".join(tables) + "\n"


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium (tests/support/browser.py), one per module: Playwright's sync API holds an
    event loop on this thread while it runs, which later asyncio.run() calls (other tests) must not meet."""
    from tests.support.browser import chromium
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, request, artifacts_dir):
    """A fresh tab (its own storage, downloads allowed); its screenshot lands in test-artifacts/ and any
    uncaught JavaScript error fails the test."""
    # Playwright's wait_for_function evaluates strings in the page, which the page's policy forbids (no
    # unsafe-eval): these tabs bypass it; test_users_page.py checks the page under its policy on its own
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.screenshot(path=str(artifacts_dir / f"users-page-{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], errors


def start_worker_for_bots(broker, tmp, bots: dict[str, str], app_id: str) -> WorkerProcess:
    """A started worker in `tmp` serving several bots ({bot_id: api_key}), each with the demo channel secrets."""
    (tmp / "bots.toml").write_text("".join(bots_toml(bot_id, key) for bot_id, key in bots.items()))
    return WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_DATA_DIR": str(tmp / "data"),
                          "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"), "CHATLENS_HTTP_PORT": str(free_port()),
                          "CHATLENS_ADMIN_KEY": "admin", "CHATLENS_APP_ID": app_id,
                          "CHATLENS_SINK_BATCH_SECONDS": "0.2",
                          "CHATLENS_STREAM_BATCH_SECONDS": "0.2"}, tmp / "worker.log").start()


@pytest.fixture
def make_worker(tmp_path):
    """Builds workers on a given broker, each with its own bot, data dir, consumer group and port."""
    workers: list[WorkerProcess] = []

    def make(broker, *, bot_id: str | None = None, app_id: str | None = None, data_dir=None,
             api_key: str | None = None, **env) -> WorkerProcess:
        bot_id = bot_id or f"bot{uuid.uuid4().hex[:8]}"
        api_key = api_key or f"key-{bot_id}-0123456789"
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
            "CHATLENS_STREAM_BATCH_SECONDS": "0.2",
            **env,
        }, tmp_path / f"worker-{bot_id}-{env.get('CHATLENS_WORKER_NAME', 'worker')}.log")
        worker.bot_id, worker.api_key, worker.bootstrap, worker.bots_file = bot_id, api_key, broker.bootstrap, bots
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.kill()
