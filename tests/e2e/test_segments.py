"""Segments through a real worker: definitions on their topic, static members by admin events, dynamic
members by a saved filter, deletion that empties the users' rows, and definitions that survive a restart."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import time

import httpx
import pytest

from tests.e2e.test_user_actions import act
from tests.e2e.test_stream_processing import chunks, post
from tests.support.streams import traffic
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e
USERS = [f"web:user-{i}" for i in range(6)]
PRO = {"filters": [{"column": "attributes.plan", "function": "equals", "value": "pro"}]}


@pytest.fixture
def worker(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    for chunk in chunks(traffic(worker.bot_id, users=6, seed=5), 80):
        post(worker, chunk, worker.bot_id, worker.api_key)
    total = "SELECT groupArray(user_id) FROM (SELECT user_id FROM users FINAL WHERE bot_id = {bot:String} " \
            "ORDER BY user_id)"
    assert worker.wait_for(total, [[USERS]], bot=worker.bot_id) == [[USERS]], worker.log_tail()
    return worker


def call(worker, method: str, path: str = "", **kwargs) -> httpx.Response:
    return httpx.request(method, f"{worker.url}/v1/bots/{worker.bot_id}/segments{path}", timeout=30,
                         headers={"Authorization": f"Bearer {worker.api_key}"}, **kwargs)


def listed(worker) -> list[tuple]:
    response = call(worker, "GET")
    assert response.status_code == 200, response.text
    return [(s["segment_id"], s["name"], s["kind"], s["members"]) for s in response.json()["segments"]]


def eventually(read, expected, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while (got := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.3)
    return got


def search(worker, filter_: dict) -> list[str]:
    response = httpx.post(f"{worker.url}/v1/bots/{worker.bot_id}/users/search", timeout=30,
                          headers={"Authorization": f"Bearer {worker.api_key}"},
                          json={"filter": filter_, "columns": [], "sort": {"column": "user_id", "direction": "asc"}})
    assert response.status_code == 200, response.text
    return [u["user_id"] for u in response.json()["users"]]


def segment_filter(function: str, segment_id: str) -> dict:
    return {"filters": [{"column": "segments", "function": function, "value": segment_id}]}


def test_static_and_dynamic_segments_list_exact_members_rename_delete_and_survive_a_restart(worker):
    static = call(worker, "POST", json={"name": "Newsletter"})
    assert static.status_code == 201 and static.json()["members"] == 0, static.text
    dynamic = call(worker, "POST", json={"name": "Pro users", "kind": "dynamic", "filter": PRO})
    assert dynamic.status_code == 201 and dynamic.json()["segment_id"] == "pro-users", dynamic.text
    assert call(worker, "POST", json={"name": "newsletter"}).status_code == 409

    assert act(worker, {"action": "add_to_segment", "segment": "newsletter", "user_ids": USERS[1:4]})["users"] == 3
    assert act(worker, {"action": "set_attribute", "key": "plan", "value": "pro",
                        "user_ids": [USERS[2], USERS[4]]})["users"] == 2
    want = [("newsletter", "Newsletter", "static", 3), ("pro-users", "Pro users", "dynamic", 2)]
    assert eventually(lambda: listed(worker), want) == want, worker.log_tail()

    # members queryable as a filter: search, negation, and a CSV export of the segment
    assert search(worker, segment_filter("has", "pro-users")) == [USERS[2], USERS[4]]
    assert search(worker, segment_filter("has_not", "pro-users")) == [USERS[0], USERS[1], USERS[3], USERS[5]]
    exported = httpx.post(f"{worker.url}/v1/bots/{worker.bot_id}/exports", timeout=30,
                          headers={"Authorization": f"Bearer {worker.api_key}"},
                          json={"segment": "pro-users", "columns": ["user_id", "attributes.plan"]})
    assert exported.status_code == 200, exported.text
    assert list(csv.reader(io.StringIO(exported.text))) == [["user_id", "attributes.plan"],
                                                            [USERS[2], "pro"], [USERS[4], "pro"]]

    renamed = call(worker, "PATCH", "/newsletter", json={"name": "Weekly letter"})
    assert renamed.status_code == 200 and renamed.json()["members"] == 3, renamed.text
    assert call(worker, "PATCH", "/pro-users", json={"name": "Pro buyers"}).status_code == 200
    assert listed(worker) == [("newsletter", "Weekly letter", "static", 3), ("pro-users", "Pro buyers", "dynamic", 2)]

    deleted = call(worker, "DELETE", "/newsletter")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "newsletter", "users": 3}
    still = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND has(segments, 'newsletter')"
    assert worker.wait_for(still, [[0]], bot=worker.bot_id) == [[0]], worker.log_tail()
    assert call(worker, "GET", "/newsletter").status_code == 404

    worker.stop()
    worker.start()   # definitions come back from the segments topic
    after = call(worker, "GET", "/pro-users").json()
    assert (after["name"], after["kind"], after["filter"]["filters"], after["members"]) == (
        "Pro buyers", "dynamic", PRO["filters"], 2)
    assert listed(worker) == [("pro-users", "Pro buyers", "dynamic", 2)]


def test_the_cli_creates_lists_and_shows_members_of_segments(worker):
    env = {**os.environ, "CHATLENS_BOTS_FILE": str(worker.bots_file), "CHATLENS_HTTP_PORT": str(worker.port)}

    def chatlens(*args: str) -> str:
        result = subprocess.run([CHATLENS, "segments", *args, "--bot", worker.bot_id], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    assert "created dynamic segment 'early'" in chatlens("create", "Early", "--dynamic", "--where",
                                                         f"user_id in_list {USERS[0]},{USERS[1]}")
    assert "created static segment 'vip'" in chatlens("create", "VIP")
    act(worker, {"action": "add_to_segment", "segment": "vip", "user_ids": [USERS[5]]})
    want = [["early", "dynamic", 2], ["vip", "static", 1]]
    read = lambda: [[s["segment_id"], s["kind"], s["members"]] for s in json.loads(chatlens("list", "--json"))["segments"]]
    assert eventually(read, want) == want
    members = json.loads(chatlens("members", "early", "--json"))
    assert sorted(u["user_id"] for u in members["users"]) == USERS[:2] and members["total"] == 2
    assert "renamed static segment 'vip' (Very important)" in chatlens("rename", "vip", "Very important")
    assert "1 user(s) removed" in chatlens("delete", "vip", "--yes")
