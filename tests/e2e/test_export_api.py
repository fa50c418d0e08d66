"""CSV exports over HTTP and the CLI, on a real worker with streamed data: direct downloads and jobs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.test_stream_processing import chunks, post
from tests.support.streams import START, expected_users, traffic
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e

SHOP, RIVAL = "xshop", "xrival"        # bots of their own: other modules share the broker and its topic
SHOP_KEY, RIVAL_KEY = "xshop-key-0123456789", "xrival-key-0123456789"
AUTH = {"Authorization": f"Bearer {SHOP_KEY}"}
COLUMNS = ["user_id", "name", "email", "last_seen", "first_seen", "attributes.plan", "tags", "sessions",
           "avg_sentiment"]
TRICKY_NAMES = ['Doe, "Jo"', "two\nlines", "Zoë 😀"]


def admin_events(users: list[str]) -> list[dict]:
    """A plan for every other user, a tag for every third, and names that need quoting."""
    at = START.replace(hour=23).isoformat()
    events = []
    for i, user in enumerate(users):
        base = {"user_id": user, "occurred_at": at, "bot_id": SHOP}
        if i % 2 == 0:
            events.append({**base, "event_id": f"{user}-plan", "kind": "attribute_set", "key": "plan", "value": "pro"})
        if i % 3 == 0:
            events.append({**base, "event_id": f"{user}-tag2", "kind": "tag_added", "tag": "export, me"})
        if i < len(TRICKY_NAMES):
            events.append({**base, "event_id": f"{user}-name", "kind": "name_edited", "name": TRICKY_NAMES[i]})
            events.append({**base, "event_id": f"{user}-mail", "kind": "email_edited", "email": f"u{i}@shop.example"})
    return events


@pytest.fixture(scope="module")
def shop(kafka_broker, tmp_path_factory):
    from tests.e2e.conftest import start_worker_for_bots
    tmp = tmp_path_factory.mktemp("export-api")
    worker = start_worker_for_bots(kafka_broker, tmp, {SHOP: SHOP_KEY, RIVAL: RIVAL_KEY}, "e2e-export-api")
    events = traffic(SHOP, users=30, seed=31)
    events += admin_events(sorted({e["user_id"] for e in events}))
    for chunk in chunks(events, 80):
        post(worker, chunk, SHOP, SHOP_KEY)
    post(worker, traffic(RIVAL, users=5, seed=32), RIVAL, RIVAL_KEY)
    expected = expected_users(events)
    versions = [[len(expected), sum(u["version"] for u in expected.values())]]
    folded = f"SELECT count(), sum(version) FROM users FINAL WHERE bot_id = '{SHOP}'"
    assert worker.wait_for(folded, versions, timeout=90) == versions, worker.log_tail()
    yield worker, expected, tmp
    worker.kill()


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def expected_csv(expected: dict[str, dict], user_ids=None) -> list[list[str]]:
    rows = [COLUMNS]
    for user_id in sorted(user_ids or expected):
        u = expected[user_id]
        rows.append([user_id, u["name"], u["email"], iso(u["last_seen"]), iso(u["first_seen"]),
                     u["attributes"].get("plan", ""), ";".join(u["tags"]), str(u["sessions"]),
                     "" if u["avg_sentiment"] is None else repr(u["avg_sentiment"])])
    return rows


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def start_export(worker, body: dict, key: str = SHOP_KEY, bot: str = SHOP) -> httpx.Response:
    return httpx.post(f"{worker.url}/v1/bots/{bot}/exports", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {key}"})


def test_a_small_export_downloads_at_once_as_a_csv_attachment(shop):
    worker, expected, _ = shop
    response = start_export(worker, {"columns": COLUMNS})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith(f'attachment; filename="{SHOP}-users-')
    assert response.headers["x-export-rows"] == str(len(expected))
    assert parsed(response.content) == expected_csv(expected)
    assert all(field in response.text for field in (',"Doe, ""Jo""",', ',"two\nlines",', ",Zoë 😀,"))


def test_a_filter_or_an_id_selection_exports_only_those_users(shop):
    worker, expected, _ = shop
    pro = {u for u, row in expected.items() if row["attributes"].get("plan") == "pro"}
    by_filter = start_export(worker, {"columns": COLUMNS, "filter": {"filters": [
        {"column": "attributes.plan", "function": "equals", "value": "pro"}]}})
    assert parsed(by_filter.content) == expected_csv(expected, pro) and len(pro) == 15
    chosen = sorted(expected)[3:6]
    by_ids = start_export(worker, {"columns": COLUMNS, "user_ids": [*reversed(chosen), "web:nobody"]})
    assert parsed(by_ids.content) == expected_csv(expected, chosen)


def test_a_large_export_runs_as_a_job_with_progress_and_a_download_link(shop):
    worker, expected, tmp = shop
    response = start_export(worker, {"columns": COLUMNS, "direct_limit": 5})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and job["total_rows"] == len(expected)
    assert job["status_url"] == f"/v1/bots/{SHOP}/exports/{job['id']}" == response.headers["location"]
    deadline = time.monotonic() + 30
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = httpx.get(worker.url + job["status_url"], headers=AUTH).json()
    assert (job["status"], job["rows_written"], job["progress"], job["error"]) == ("done", len(expected), 1.0, None)
    assert job["download_url"] == f"/v1/bots/{SHOP}/exports/{job['id']}/download"
    download = httpx.get(worker.url + job["download_url"], headers=AUTH)
    assert download.status_code == 200 and download.headers["content-type"] == "text/csv; charset=utf-8"
    assert parsed(download.content) == expected_csv(expected)
    assert (tmp / "data" / "exports" / SHOP / f"{job['id']}.csv").read_bytes() == download.content
    listed = httpx.get(f"{worker.url}/v1/bots/{SHOP}/exports", headers=AUTH).json()["exports"]
    assert job["id"] in [j["id"] for j in listed]


def test_another_bots_key_never_sees_a_bots_export_jobs(shop):
    worker, _, _ = shop
    job = start_export(worker, {"direct_limit": 0}).json()
    rival = {"Authorization": f"Bearer {RIVAL_KEY}"}
    assert httpx.get(f"{worker.url}/v1/bots/{RIVAL}/exports/{job['id']}", headers=rival).status_code == 404
    assert httpx.get(f"{worker.url}/v1/bots/{RIVAL}/exports/{job['id']}/download", headers=rival).status_code == 404
    assert httpx.get(f"{worker.url}/v1/bots/{SHOP}/exports/{job['id']}", headers=rival).status_code == 401
    assert job["id"] not in [j["id"] for j in httpx.get(f"{worker.url}/v1/bots/{RIVAL}/exports",
                                                        headers=rival).json()["exports"]]
    rival_csv = parsed(start_export(worker, {}, key=RIVAL_KEY, bot=RIVAL).content)
    assert len(rival_csv) == 1 + 5


def test_an_unknown_column_is_a_400_naming_the_valid_ones(shop):
    worker, _, _ = shop
    response = start_export(worker, {"columns": ["name", "emial"]})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_export", "detail": [
        "columns[1]: unknown column 'emial'; did you mean 'email'? columns include name, email, country, "
        "sessions, last_seen, tags, segments, channel and attributes.<key>"]}
    missing = httpx.get(f"{worker.url}/v1/bots/{SHOP}/exports/{'0' * 32}", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def run_cli(tmp, worker, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"), "CHATLENS_HTTP_PORT": str(worker.port)}
    return subprocess.run([CHATLENS, "export", "--bot", SHOP, *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_writes_a_small_export_to_the_out_file(shop):
    worker, expected, tmp = shop
    out = tmp / "pro.csv"
    result = run_cli(tmp, worker, "--where", "attributes.plan = pro", "--columns", ",".join(COLUMNS[1:]),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    pro = {u for u, row in expected.items() if row["attributes"].get("plan") == "pro"}
    assert parsed(out.read_bytes()) == [row[1:] for row in expected_csv(expected, pro)]
    assert f"{len(pro)} users → " in result.stdout
    assert not (tmp / "pro.csv.partial").exists()


def test_cli_follows_a_job_with_a_progress_bar_and_downloads_it(shop):
    worker, expected, tmp = shop
    out = tmp / "everyone.csv"
    chosen = sorted(expected)[:4]
    result = run_cli(tmp, worker, *(a for u in chosen for a in ("--user-id", u)), "--columns", ",".join(COLUMNS),
                     "--direct-limit", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert parsed(out.read_bytes()) == expected_csv(expected, chosen)
    assert "of 4 users runs on the worker" in result.stdout and "4 users → " in result.stdout
    bad = run_cli(tmp, worker, "--columns", "name,emial", "--out", str(tmp / "bad.csv"))
    assert bad.returncode == 1 and "did you mean 'email'?" in bad.stderr and not (tmp / "bad.csv").exists()
