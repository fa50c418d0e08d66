"""The Users section over HTTP and the CLI, on a real worker with streamed data."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from tests.e2e.test_stream_processing import chunks, post
from tests.support.streams import expected_users, traffic
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e

INJECTIONS = ["' OR 1=1 --", "x'); DROP TABLE users; --", "\\'", "{bot_id:String}", "1; SELECT 1", "`users`"]


@pytest.fixture(scope="module")
def populated(kafka_broker, tmp_path_factory):
    from tests.e2e.conftest import start_worker_for_bots
    tmp = tmp_path_factory.mktemp("users-api")
    worker = start_worker_for_bots(kafka_broker, tmp, {"shop": "shop-key-0123456789", "rival": "rival-key-0123456789"},
                                   "e2e-users-api")
    events = traffic("shop", users=25, seed=11)
    for chunk in chunks(events, 60):
        post(worker, chunk, "shop", "shop-key-0123456789")
    rival_events = traffic("rival", users=5, seed=12)  # the same user ids, other numbers
    post(worker, rival_events, "rival", "rival-key-0123456789")
    expected, worker.rival_expected = expected_users(events), expected_users(rival_events)
    for bot, users in (("shop", expected), ("rival", worker.rival_expected)):
        total = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String}"
        assert worker.wait_for(total, [[len(users)]], timeout=120, bot=bot) == [[len(users)]], worker.log_tail()
    yield worker, expected, tmp
    worker.kill()


def search(worker, body: dict, key: str = "shop-key-0123456789", bot: str = "shop") -> httpx.Response:
    return httpx.post(f"{worker.url}/v1/bots/{bot}/users/search", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def test_search_filters_sorts_and_counts_like_the_batch_numbers(populated):
    worker, expected, _ = populated
    body = {"filter": {"match": "all", "filters": [{"column": "sessions", "function": "gte", "value": 2},
                                                     {"column": "channel", "function": "has", "value": "web"}]},
            "columns": ["sessions", "messages_sent"], "sort": {"column": "messages_sent", "direction": "desc"},
            "limit": 100}
    page = search(worker, body).json()
    want = sorted((u for u in expected.values() if u["sessions"] >= 2),
                  key=lambda u: (-u["messages_sent"], u["user_id"]))
    assert page["total"] == len(want) > 0
    assert [(u["user_id"], u["sessions"], u["messages_sent"]) for u in page["users"]] == \
        [(u["user_id"], u["sessions"], u["messages_sent"]) for u in want]


def test_a_page_without_its_total_then_the_count_on_its_own_give_the_same_answer(populated):
    worker, expected, _ = populated
    flt = {"match": "all", "filters": [{"column": "sessions", "function": "gte", "value": 2}]}
    full = search(worker, {"filter": flt, "limit": 5}).json()
    quick = search(worker, {"filter": flt, "limit": 5, "with_total": False}).json()
    assert quick == {**full, "total": None}
    counted = httpx.post(f"{worker.url}/v1/bots/shop/users/count", json={"filter": flt}, timeout=30,
                         headers={"Authorization": "Bearer shop-key-0123456789"}).json()
    assert counted == {"total": full["total"]} == {"total": sum(u["sessions"] >= 2 for u in expected.values())}
    refused = httpx.post(f"{worker.url}/v1/bots/shop/users/count", json={"filter": flt}, timeout=30,
                         headers={"Authorization": "Bearer rival-key-0123456789"})
    assert refused.status_code == 401


def test_pages_follow_the_cursor_without_repeats(populated):
    worker, expected, _ = populated
    seen, cursor = [], None
    while True:
        page = search(worker, {"limit": 4, "cursor": cursor, "sort": {"column": "last_seen"}}).json()
        seen += [u["user_id"] for u in page["users"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))


def test_user_detail_sessions_and_transcript(populated):
    worker, expected, _ = populated
    user_id, want = max(expected.items(), key=lambda kv: kv[1]["messages_sent"])
    auth = {"Authorization": "Bearer shop-key-0123456789"}
    detail = httpx.get(f"{worker.url}/v1/bots/shop/users/{user_id}", headers=auth).json()
    assert detail["metrics"]["messages_sent"] == want["messages_sent"]
    assert detail["metrics"]["sessions"] == want["sessions"]
    assert len(detail["sentiment_history"]) == want["messages_sent"]  # every inbound message has text: scored
    sessions = httpx.get(f"{worker.url}/v1/bots/shop/users/{user_id}/sessions", headers=auth).json()["sessions"]
    assert len(sessions) == want["sessions"]
    transcript = httpx.get(f"{worker.url}/v1/bots/shop/users/{user_id}/transcript", headers=auth).json()["sessions"]
    inbound = [m for chat in transcript for m in chat["messages"] if m["direction"] == "inbound"]
    assert len(inbound) == want["messages_sent"] and all(m["sentiment"] is not None for m in inbound)


def test_one_bots_key_never_reads_another_bots_users(populated):
    worker, expected, _ = populated
    assert search(worker, {}, key="rival-key-0123456789", bot="shop").status_code == 401
    rival = search(worker, {"limit": 1000, "columns": ["messages_sent"]}, key="rival-key-0123456789",
                   bot="rival").json()
    assert {u["user_id"]: u["messages_sent"] for u in rival["users"]} == \
        {u: row["messages_sent"] for u, row in worker.rival_expected.items()}
    only_in_shop = sorted(set(expected) - set(worker.rival_expected))[0]
    response = httpx.get(f"{worker.url}/v1/bots/rival/users/{only_in_shop}",
                         headers={"Authorization": "Bearer rival-key-0123456789"})
    assert response.status_code == 404


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_in_every_field_are_refused_or_harmless(populated, evil):
    worker, expected, _ = populated
    bodies = [{"filter": {"filters": [{"column": evil, "function": "equals", "value": "x"}]}},
              {"filter": {"filters": [{"column": "name", "function": evil, "value": "x"}]}},
              {"filter": {"filters": [{"column": "name", "function": "equals", "value": evil}]}},
              {"filter": {"filters": [{"column": f"attributes.{evil}", "function": "equals", "value": "x"}]}},
              {"sort": {"column": evil}}, {"cursor": evil}, {"columns": [evil]}]
    for body in bodies:
        response = search(worker, body)
        assert response.status_code in (200, 400, 422), (body, response.text)
        if response.status_code == 200:
            assert response.json()["total"] == 0
    assert search(worker, {"limit": 1}).json()["total"] == len(expected)  # tables intact


def test_cli_lists_and_shows_users(populated):
    worker, expected, tmp = populated
    env = {**os.environ, "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"), "CHATLENS_HTTP_PORT": str(worker.port)}
    listed = subprocess.run([CHATLENS, "users", "list", "--bot", "shop", "--where", "sessions >= 1",
                             "--where", "channel = web", "--columns", "sessions", "--limit", "1000", "--json"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["total"] == len(expected)
    user_id = next(iter(expected))
    shown = subprocess.run([CHATLENS, "users", "show", user_id, "--bot", "shop"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0 and "session 1" in shown.stdout, shown.stderr
    bad = subprocess.run([CHATLENS, "users", "list", "--bot", "shop", "--where", "sessions contains x"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "use one of: eq, ne, gt" in bad.stderr
