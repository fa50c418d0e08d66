"""The Settings panels for segments and scheduled exports, in Chromium, against a real worker.

What the page does is checked twice: on screen, and through the API it called (the definitions on
the segments and schedules topics, the run's history and its file on disk).
"""

from __future__ import annotations

import csv
import re
import time
import uuid

import httpx
import pytest

from tests.support.browser import sign_in

pytestmark = pytest.mark.e2e

BOT = f"panels{uuid.uuid4().hex[:6]}"   # the broker's topics outlive a module: a bot of this run only
KEY = f"{BOT}-key-0123456789"
PEOPLE = {"web:a": ("Ana", "Poland"), "web:b": ("Ben", "Spain"), "web:c": ("Cyd", "Poland")}


def api(worker, method: str, path: str, body=None) -> httpx.Response:
    return httpx.request(method, f"{worker.url}/v1/bots/{BOT}{path}", json=body, timeout=30,
                         headers={"Authorization": f"Bearer {KEY}"})


@pytest.fixture(scope="module")
def worker(kafka_broker, tmp_path_factory):
    from tests.e2e.conftest import start_worker_for_bots
    tmp = tmp_path_factory.mktemp("panels")
    worker = start_worker_for_bots(kafka_broker, tmp, {BOT: KEY}, f"e2e-{BOT}")
    worker.data_dir = tmp / "data"
    events = [{"kind": "message", "event_id": f"{u}-m", "user_id": u, "occurred_at": "2026-11-30T12:00:00Z",
               "direction": "inbound", "text": "hello"} for u in PEOPLE]
    events += [{"kind": "profile_update", "event_id": f"{u}-p", "user_id": u, "occurred_at": "2026-11-30T12:00:01Z",
                "profile": {"name": name, "country": country}} for u, (name, country) in PEOPLE.items()]
    assert api(worker, "POST", "/events", events).status_code == 202
    named = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND name != ''"
    assert worker.wait_for(named, [[3]], timeout=60, bot=BOT) == [[3]], worker.log_tail()
    assert api(worker, "POST", "/segments", {"name": "Newsletter"}).status_code == 201
    added = api(worker, "POST", "/users/actions", {"action": "add_to_segment", "segment": "newsletter",
                                                   "user_ids": ["web:a", "web:b"]})
    assert added.status_code == 200 and added.json()["users"] == 2, added.text
    members = "SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND has(segments, 'newsletter')"
    assert worker.wait_for(members, [[2]], timeout=60, bot=BOT) == [[2]], worker.log_tail()
    yield worker
    worker.kill()


def open_settings(page, worker, path="/ui/"):
    sign_in(page, worker.url, BOT, KEY, path)
    page.wait_for_selector("body[data-ready]", state="attached")
    page.click(".tabs button[data-tab='settings']")
    page.wait_for_selector("#segments-table tbody tr")


def segment_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all("#segments-table tbody tr",
                                     "rows => rows.map(r => [...r.cells].slice(0, 3).map(c => c.textContent))")


def test_segments_are_listed_created_from_the_filter_renamed_and_deleted(page, worker):
    poland = '{"match":"all","filters":[{"column":"country","function":"equals","value":"Poland"}]}'
    open_settings(page, worker, "/ui/#filter=" + poland)
    assert segment_rows(page) == [["Newsletter", "static", "2"]]
    page.fill("#segment-name", "Poles")
    page.click("#segment-form button[type=submit]")
    page.wait_for_function("document.querySelector('#segment-status').textContent !== ''")
    assert page.text_content("#segment-status") == 'Created dynamic segment "Poles"'
    page.wait_for_selector("#segments-table tr[data-segment='Poles']")
    assert segment_rows(page) == [["Newsletter", "static", "2"], ["Poles", "dynamic", "2"]]
    saved = api(worker, "GET", "/segments/poles").json()
    assert (saved["kind"], saved["filter"]["filters"], saved["members"]) == (
        "dynamic", [{"column": "country", "function": "equals", "value": "Poland"}], 2)

    page.click("#segments-table tr[data-segment='Poles'] button:has-text('Rename')")
    page.fill("#dialog-fields input[name=name]", "Polish users")
    page.click("#dialog-ok")
    page.wait_for_selector("#segments-table tr[data-segment='Polish users']")
    assert api(worker, "GET", "/segments/poles").json()["name"] == "Polish users"   # the id stays

    page.click("#segments-table tr[data-segment='Polish users'] button:has-text('Delete')")
    assert page.text_content("#dialog-text") == 'Delete the segment "Polish users"?'
    page.click("#dialog-ok")
    page.wait_for_selector("#segments-table tr[data-segment='Polish users']", state="detached")
    assert segment_rows(page) == [["Newsletter", "static", "2"]]
    assert api(worker, "GET", "/segments/poles").status_code == 404

    page.click("#segments-table tr[data-segment='Newsletter'] button:has-text('Show users')")
    page.wait_for_function("document.querySelector('#chips').textContent.includes('Segments has newsletter')")
    page.wait_for_function("document.querySelector('#users-table').getAttribute('aria-busy') === 'false'")
    assert page.text_content("#total") == "2 users"
    shown = page.eval_on_selector_all("#users-table tbody tr[data-user-id]", "r => r.map(x => x.dataset.userId)")
    assert sorted(shown) == ["web:a", "web:b"]


def test_scheduled_exports_are_added_run_with_history_and_removed(page, worker):
    open_settings(page, worker)
    page.wait_for_selector("#schedules-panel", state="visible")   # shown once GET …/schedules answered
    page.select_option("#schedule-segment", "newsletter")
    page.fill("#schedule-cron", "0 6 * * *")
    page.fill("#schedule-columns", "user_id, name")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector("#schedules-table tbody tr")
    [schedule] = api(worker, "GET", "/schedules").json()["schedules"]
    assert (schedule["segment"], schedule["cron"], schedule["columns"]) == ("newsletter", "0 6 * * *",
                                                                            ["user_id", "name"])
    cells = page.eval_on_selector_all("#schedules-table tbody tr td", "c => c.slice(0, 5).map(x => x.textContent)")
    assert cells == ["Newsletter", "0 6 * * *", "user_id, name", ".", "never"]   # the bot's own directory

    page.click("#schedules-table tbody tr button:has-text('Run now')")
    page.wait_for_function("document.querySelector('#schedule-status').textContent.startsWith('Exported')",
                           timeout=60_000)
    status = page.text_content("#schedule-status")
    match = re.fullmatch(rf"Exported 2 users to ({BOT}/newsletter-\d{{8}}T\d{{6}}Z-manual-\w+\.csv)", status)
    assert match, status
    row = page.eval_on_selector_all("#schedule-runs tbody tr:first-child td", "c => c.map(x => x.textContent)")
    assert row[1:] == ["succeeded", "2", match.group(1), ""]
    with (worker.data_dir / "scheduled-exports" / match.group(1)).open(newline="", encoding="utf-8") as f:
        assert sorted(tuple(r.values()) for r in csv.DictReader(f)) == [("web:a", "Ana"), ("web:b", "Ben")]
    page.wait_for_function("document.querySelector('#schedules-table tbody td:nth-child(5)').textContent"
                           ".endsWith('succeeded')")

    page.click("#schedules-table tbody tr button:has-text('Remove')")
    page.click("#dialog-ok")
    page.wait_for_selector("#schedules-table tbody tr", state="detached")
    deadline = time.monotonic() + 10
    while api(worker, "GET", "/schedules").json()["schedules"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api(worker, "GET", "/schedules").json() == {"schedules": []}
