"""The acceptance test of scheduled exports: two workers in one group, a schedule due every minute, one file.

The owner holds chDB and executes runs; the helper (CHATLENS_SINK=false) only processes, ingests and
takes API writes. Whichever of them is the Faust leader asks for the run; the file is written once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.e2e.test_stream_processing import chunks, group_members, post
from tests.e2e.test_user_actions import act
from tests.support.streams import traffic
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e
MEMBERS = ["web:user-0", "web:user-2", "web:user-3"]


def auth(worker) -> dict[str, str]:
    return {"Authorization": f"Bearer {worker.api_key}"}


def runs_of(worker, schedule_id: str, run_id: str) -> list[dict]:
    response = httpx.get(f"{worker.url}/v1/bots/{worker.bot_id}/schedules/{schedule_id}/runs", headers=auth(worker),
                         timeout=30)
    assert response.status_code == 200, response.text
    return [r for r in response.json()["runs"] if r["run_id"] == run_id]


def wait_for_success(worker, schedule_id: str, run_id: str, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = runs_of(worker, schedule_id, run_id)
        if any(r["status"] == "succeeded" for r in found):
            return found
        assert time.monotonic() < deadline, f"run {run_id} did not succeed: {found}\n{worker.log_tail()}"
        time.sleep(0.5)


def user_ids_in(path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [row["user_id"] for row in csv.DictReader(f)]


def test_a_schedule_due_every_minute_writes_its_file_once_with_two_workers(kafka_broker, make_worker, tmp_path):
    root = tmp_path / "scheduled"
    owner = make_worker(kafka_broker, app_id="e2e-schedules", CHATLENS_SCHEDULE_DIR=str(root)).start()
    helper = make_worker(kafka_broker, app_id="e2e-schedules", bot_id=owner.bot_id, CHATLENS_SINK="false",
                         CHATLENS_WORKER_NAME="helper", CHATLENS_SCHEDULE_DIR=str(root)).start()
    deadline = time.monotonic() + 60
    while group_members(kafka_broker.bootstrap, "e2e-schedules") < 2:
        assert time.monotonic() < deadline, "the two workers did not join one group"
        time.sleep(0.5)

    for chunk in chunks(traffic(owner.bot_id, users=5, seed=31), 80):
        post(helper, chunk, owner.bot_id, owner.api_key)
    total = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String}"
    assert owner.wait_for(total, [[5]], bot=owner.bot_id) == [[5]], owner.log_tail()
    assert act(owner, {"action": "add_to_segment", "segment": "newsletter", "user_ids": MEMBERS})["users"] == 3
    members = "SELECT user_id FROM users FINAL WHERE bot_id = {bot:String} AND has(segments, 'newsletter') " \
              "ORDER BY user_id"
    assert owner.wait_for(members, [[u] for u in MEMBERS], bot=owner.bot_id) == [[u] for u in MEMBERS]

    created = httpx.post(f"{helper.url}/v1/bots/{owner.bot_id}/schedules", headers=auth(owner), timeout=30, json={
        "segment": "newsletter", "cron": "* * * * *", "columns": ["user_id", "name"], "destination": "weekly"})
    assert created.status_code == 201, created.text
    schedule = created.json()
    schedule_id, created_at = schedule["schedule_id"], datetime.fromisoformat(schedule["created_at"])
    first_due = (created_at.replace(second=0, microsecond=0) + timedelta(minutes=1)).astimezone(UTC)
    stamp = f"{first_due:%Y%m%dT%H%M%SZ}"

    # run now, on the helper's API: the owner's executor writes the file
    manual = httpx.post(f"{helper.url}/v1/bots/{owner.bot_id}/schedules/{schedule_id}/run", headers=auth(owner),
                        timeout=30)
    assert manual.status_code == 202, manual.text
    [done] = wait_for_success(owner, schedule_id, manual.json()["run_id"], timeout=60)
    assert user_ids_in(root / done["file"]) == MEMBERS and done["rows"] == 3

    # the scheduled run of the next minute
    run_id = f"{schedule_id}@{stamp}"
    wait_for_success(owner, schedule_id, run_id, timeout=(first_due - datetime.now(UTC)).total_seconds() + 45)
    time.sleep(6)   # more than a leader tick: a repeated request would have been handled by now
    assert [(r["attempt"], r["status"]) for r in runs_of(owner, schedule_id, run_id)] == [(1, "succeeded")]
    weekly = root / owner.bot_id / "weekly"   # each bot's schedules write under its own directory
    for_minute = sorted(p.name for p in weekly.iterdir() if stamp in p.name)
    assert for_minute == [f"newsletter-{stamp}.csv"]
    assert user_ids_in(weekly / f"newsletter-{stamp}.csv") == MEMBERS
    assert not list(weekly.glob("*.partial"))

    listed = httpx.get(f"{helper.url}/v1/bots/{owner.bot_id}/schedules", headers=auth(owner), timeout=30).json()
    assert [s["schedule_id"] for s in listed["schedules"]] == [schedule_id]   # the helper follows the topic too

    # the CLI reads the same history from the owner
    env = {**os.environ, "CHATLENS_BOTS_FILE": str(owner.bots_file), "CHATLENS_HTTP_PORT": str(owner.port)}
    cli = subprocess.run([CHATLENS, "schedules", "history", schedule_id, "--bot", owner.bot_id, "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert run_id in {r["run_id"] for r in json.loads(cli.stdout)["runs"]}
    removed = subprocess.run([CHATLENS, "schedules", "remove", schedule_id, "--bot", owner.bot_id], env=env,
                             capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0 and "removed" in removed.stdout, removed.stderr
