"""Admin actions through the log and back from ClickHouse; deletion that a rebuild does not undo."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from tests.e2e.test_stream_processing import chunks, post, rebuild_check
from tests.support.streams import traffic
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e
USER = "SELECT name, email, tags, segments, attributes, banned FROM users FINAL WHERE bot_id = {bot:String} " \
       "AND user_id = {user:String}"


@pytest.fixture
def worker(kafka_broker, make_worker):
    worker = make_worker(kafka_broker).start()
    for chunk in chunks(traffic(worker.bot_id, users=6, seed=21), 80):
        post(worker, chunk, worker.bot_id, worker.api_key)
    total = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String}"
    assert worker.wait_for(total, [[6]], bot=worker.bot_id) == [[6]], worker.log_tail()
    return worker


def act(worker, body: dict, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {worker.api_key}", **({"Idempotency-Key": key} if key else {})}
    response = httpx.post(f"{worker.url}/v1/bots/{worker.bot_id}/users/actions", json=body, headers=headers,
                          timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def user(worker, user_id: str, expected) -> list:
    return worker.wait_for(USER, expected, timeout=30, bot=worker.bot_id, user=user_id)


def test_each_action_on_ids_reaches_the_users_row(worker):
    u = "web:user-1"
    assert act(worker, {"action": "add_tag", "tag": "vip", "user_ids": [u, "web:nobody"]})["users"] == 1
    assert act(worker, {"action": "add_to_segment", "segment": "newsletter", "user_ids": [u]})["users"] == 1
    assert act(worker, {"action": "set_attribute", "key": "plan", "value": "pro", "user_ids": [u]})["users"] == 1
    act(worker, {"action": "edit_name", "name": "Ana Ruiz", "user_ids": [u]})
    act(worker, {"action": "edit_email", "email": "ana@example.com", "user_ids": [u]})
    act(worker, {"action": "ban", "user_ids": [u]})
    want = [["Ana Ruiz", "ana@example.com", ["vip"], ["newsletter"], {"plan": "pro"}, 1]]
    assert user(worker, u, want) == want
    segments = httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/segments",
                         headers={"Authorization": f"Bearer {worker.api_key}"}).json()
    assert [{k: s[k] for k in ("segment", "members")} for s in segments["segments"]] == [
        {"segment": "newsletter", "members": 1}]
    for body in ({"action": "remove_tag", "tag": "vip"}, {"action": "remove_from_segment", "segment": "newsletter"},
                 {"action": "remove_attribute", "key": "plan"}, {"action": "unban"}):
        act(worker, {**body, "user_ids": [u]})
    want = [["Ana Ruiz", "ana@example.com", [], [], {}, 0]]
    assert user(worker, u, want) == want


def test_an_action_on_a_filter_touches_every_match_once_even_when_retried(worker):
    body = {"action": "add_tag", "tag": "early", "filter": {"filters": [
        {"column": "user_id", "function": "in_list", "value": ["web:user-0", "web:user-2", "web:user-4"]}]}}
    assert act(worker, body, key="retry-1")["users"] == 3
    tagged = "SELECT user_id, version FROM users FINAL WHERE bot_id = {bot:String} AND has(tags, 'early') " \
             "ORDER BY user_id"
    deadline = time.monotonic() + 30
    while len(rows := worker.sql(tagged, bot=worker.bot_id)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [r[0] for r in rows] == ["web:user-0", "web:user-2", "web:user-4"]
    assert act(worker, body, key="retry-1")["action_id"] == act(worker, body, key="retry-1")["action_id"]
    time.sleep(3)  # the retries have been folded by now: same event ids, so no new versions
    assert worker.sql(tagged, bot=worker.bot_id) == rows


def test_deleted_user_leaves_every_table_and_stays_deleted_after_rebuild(worker):
    u = "web:user-3"
    assert act(worker, {"action": "delete", "user_ids": [u]})["users"] == 1
    counts = ("SELECT (SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND user_id = {user:String}), "
              "(SELECT count() FROM sessions WHERE bot_id = {bot:String} AND user_id = {user:String}), "
              "(SELECT count() FROM messages WHERE bot_id = {bot:String} AND user_id = {user:String}), "
              "(SELECT groupArray(kind) FROM events WHERE bot_id = {bot:String} AND user_id = {user:String})")
    gone = [[0, 0, 0, ["user_deleted"]]]
    assert worker.wait_for(counts, gone, timeout=30, bot=worker.bot_id, user=u) == gone, worker.log_tail()
    report = rebuild_check(worker, worker.bot_id)
    assert report["differences"] == {"users": 0, "sessions": 0, "messages": 0}
    with httpx.stream("POST", f"{worker.url}/v1/admin/rebuild", params={"apply": True}, timeout=120,
                      headers={"Authorization": f"Bearer {worker.admin_key}"}) as response:
        assert json.loads(list(response.iter_lines())[-1])["report"]["applied"] is True
    assert worker.sql(counts, bot=worker.bot_id, user=u) == gone
    detail = httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/users/{u}",
                       headers={"Authorization": f"Bearer {worker.api_key}"})
    assert detail.status_code == 404


def test_cli_verbs_act_on_a_where_selection(worker):
    env = {**os.environ, "CHATLENS_BOTS_FILE": str(worker.bots_file), "CHATLENS_HTTP_PORT": str(worker.port)}
    result = subprocess.run([CHATLENS, "users", "set-attribute", "plan", "team", "--bot", worker.bot_id,
                             "--where", "user_id = web:user-5"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "1 user(s)" in result.stdout, result.stdout + result.stderr
    refused = subprocess.run([CHATLENS, "users", "delete", "--bot", worker.bot_id, "--user-id", "web:user-5"],
                             env=env, capture_output=True, text=True, timeout=60, input="n\n")
    assert refused.returncode == 1 and "Aborted" in refused.stderr
    attrs = "SELECT attributes FROM users FINAL WHERE bot_id = {bot:String} AND user_id = 'web:user-5'"
    assert worker.wait_for(attrs, [[{"plan": "team"}]], timeout=30, bot=worker.bot_id) == [[{"plan": "team"}]]


def test_each_action_on_a_filter_reaches_every_matching_row_and_only_those(worker):
    pair = {"match": "any", "filters": [{"column": "user_id", "function": "equals", "value": "web:user-1"},
                                        {"column": "user_id", "function": "ends_with", "value": "-4"}]}
    chosen, others = ["web:user-1", "web:user-4"], "SELECT user_id, version FROM users FINAL WHERE " \
        "bot_id = {bot:String} AND user_id NOT IN ('web:user-1', 'web:user-4') ORDER BY user_id"
    untouched = worker.sql(others, bot=worker.bot_id)
    before = {u: worker.sql(USER, bot=worker.bot_id, user=u)[0] for u in chosen}
    for body in ({"action": "add_tag", "tag": "picked"}, {"action": "add_to_segment", "segment": "beta"},
                 {"action": "set_attribute", "key": "plan", "value": "pro"}, {"action": "edit_name", "name": "Same Name"},
                 {"action": "edit_email", "email": "same@example.com"}, {"action": "ban"}):
        assert act(worker, {**body, "filter": pair})["users"] == 2
    for u in chosen:
        tags = sorted({*before[u][2], "picked"})
        want = [["Same Name", "same@example.com", tags, ["beta"], {"plan": "pro"}, 1]]
        got = user(worker, u, want)
        assert [[*got[0][:2], sorted(got[0][2]), *got[0][3:]]] == want
    for body in ({"action": "remove_tag", "tag": "picked"}, {"action": "remove_from_segment", "segment": "beta"},
                 {"action": "remove_attribute", "key": "plan"}, {"action": "unban"}):
        assert act(worker, {**body, "filter": pair})["users"] == 2
    for u in chosen:
        want = [["Same Name", "same@example.com", before[u][2], [], {}, 0]]
        assert user(worker, u, want) == want
    assert act(worker, {"action": "delete", "filter": pair})["users"] == 2
    gone = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND user_id IN ('web:user-1', 'web:user-4')"
    assert worker.wait_for(gone, [[0]], timeout=30, bot=worker.bot_id) == [[0]]
    assert worker.sql(others, bot=worker.bot_id) == untouched
