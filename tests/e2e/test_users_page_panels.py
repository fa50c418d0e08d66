"""The Settings panels for segments and scheduled exports, in Chromium, against the agreed API contract.

Those routes are being built on other branches; here the real HTTP app (real chDB store) gets small
in-memory routes that follow the contract, and each test checks what the page sent and shows.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Annotated

import pytest
from fastapi import Header, HTTPException

from pipeline.bots import Bot
from pipeline.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.web import create_api
from tests.support.browser import sign_in
from tests.support.http import serving
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.e2e

BOT, KEY = "panels", "panels-key-0123456789"
Auth = Annotated[str | None, Header()]


class Contract:
    """Segments and schedules as the contract describes them, kept in memory; remembers every request."""

    def __init__(self):
        self.ids = itertools.count(2)
        self.segments = {"s1": {"segment_id": "s1", "segment": "newsletter", "name": "Newsletter", "kind": "static",
                                "filter": None, "members": 2}}
        self.schedules: dict[str, dict] = {}
        self.runs: dict[str, list[dict]] = {}
        self.requests: list[tuple[str, str, dict | None]] = []

    def routes(self, api) -> None:
        api.router.routes = [r for r in api.router.routes if getattr(r, "path", "") != "/v1/bots/{bot_id}/segments"]

        def check(bot_id: str, authorization: str | None) -> None:
            if bot_id != BOT or authorization != f"Bearer {KEY}":
                raise HTTPException(401)

        @api.get("/v1/bots/{bot_id}/segments")
        def list_segments(bot_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            return {"segments": list(self.segments.values())}

        @api.post("/v1/bots/{bot_id}/segments", status_code=201)
        def create_segment(bot_id: str, body: dict, authorization: Auth = None):
            check(bot_id, authorization)
            self.requests.append(("POST", "segments", body))
            segment_id = f"s{next(self.ids)}"
            self.segments[segment_id] = {"segment_id": segment_id, "segment": segment_id, "name": body["name"],
                                         "kind": body["kind"], "filter": body.get("filter"), "members": 1}
            return self.segments[segment_id]

        @api.patch("/v1/bots/{bot_id}/segments/{segment_id}")
        def rename_segment(bot_id: str, segment_id: str, body: dict, authorization: Auth = None):
            check(bot_id, authorization)
            self.requests.append(("PATCH", segment_id, body))
            self.segments[segment_id]["name"] = body["name"]
            return self.segments[segment_id]

        @api.delete("/v1/bots/{bot_id}/segments/{segment_id}")
        def delete_segment(bot_id: str, segment_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            self.requests.append(("DELETE", segment_id, None))
            return self.segments.pop(segment_id)

        @api.get("/v1/bots/{bot_id}/schedules")
        def list_schedules(bot_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            return {"schedules": list(self.schedules.values())}

        @api.post("/v1/bots/{bot_id}/schedules", status_code=201)
        def create_schedule(bot_id: str, body: dict, authorization: Auth = None):
            check(bot_id, authorization)
            self.requests.append(("POST", "schedules", body))
            schedule_id = f"j{next(self.ids)}"
            self.schedules[schedule_id] = {"schedule_id": schedule_id, "segment": body["segment"], "cron": body["cron"],
                                           "columns": body.get("columns", ["user_id", "name", "email"]),
                                           "destination": body.get("destination"), "created_at": "2026-12-01T10:00:00Z",
                                           "last_run": None}
            self.runs[schedule_id] = []
            return self.schedules[schedule_id]

        @api.delete("/v1/bots/{bot_id}/schedules/{schedule_id}")
        def delete_schedule(bot_id: str, schedule_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            self.requests.append(("DELETE", schedule_id, None))
            return self.schedules.pop(schedule_id)

        @api.post("/v1/bots/{bot_id}/schedules/{schedule_id}/run", status_code=202)
        def run_schedule(bot_id: str, schedule_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            run = {"run_id": f"r{next(self.ids)}", "scheduled_for": "2026-12-01T12:00:00Z", "status": "done",
                   "rows": 2, "file": "newsletter-20261201T120000Z.csv", "error": None}
            self.runs[schedule_id].append(run)
            self.schedules[schedule_id]["last_run"] = run
            return run

        @api.get("/v1/bots/{bot_id}/schedules/{schedule_id}/runs")
        def runs(bot_id: str, schedule_id: str, authorization: Auth = None):
            check(bot_id, authorization)
            return {"runs": self.runs[schedule_id]}


@pytest.fixture
def contract():
    return Contract()


@pytest.fixture
def base_url(clickhouse, tmp_path, contract):
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    insert_users(clickhouse, [
        user_row("web:a", BOT, name="Ana", country="Poland", segments=["newsletter"], last_seen=now, first_seen=now),
        user_row("web:b", BOT, name="Ben", country="Spain", segments=["newsletter"], last_seen=now, first_seen=now),
        user_row("web:c", BOT, name="Cyd", country="Poland", last_seen=now, first_seen=now)])
    services = Services(settings=Settings(CHATLENS_DATA_DIR=tmp_path), bots={BOT: Bot(bot_id=BOT, api_key=KEY)},
                        publisher=MemoryPublisher(), store=None, clickhouse=clickhouse)
    api = create_api(services)
    contract.routes(api)
    with serving(api) as url:
        yield url



def open_settings(page, base_url, path="/ui/"):
    sign_in(page, base_url, BOT, KEY, path)
    page.wait_for_selector("body[data-ready]", state="attached")
    page.click(".tabs button[data-tab='settings']")
    page.wait_for_selector("#segments-table tbody tr")


def segment_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all("#segments-table tbody tr", "rows => rows.map(r => [...r.cells].slice(0, 3).map(c => c.textContent))")


def test_segments_are_listed_created_from_the_filter_renamed_and_deleted(page, base_url, contract):
    open_settings(page, base_url, "/ui/#filter=" + '{"match":"all","filters":[{"column":"country","function":"equals","value":"Poland"}]}')
    assert segment_rows(page) == [["Newsletter", "static", "2"]]
    page.fill("#segment-name", "Poles")
    page.click("#segment-form button[type=submit]")
    page.wait_for_function("document.querySelector('#segment-status').textContent !== ''")
    assert page.text_content("#segment-status") == 'Created dynamic segment "Poles"'
    assert contract.requests[-1] == ("POST", "segments", {"name": "Poles", "kind": "dynamic", "filter": {
        "match": "all", "filters": [{"column": "country", "function": "equals", "value": "Poland"}]}})
    page.wait_for_selector("#segments-table tr[data-segment='Poles']")
    assert segment_rows(page) == [["Newsletter", "static", "2"], ["Poles", "dynamic", "1"]]

    page.click("#segments-table tr[data-segment='Poles'] button:has-text('Rename')")
    page.fill("#dialog-fields input[name=name]", "Polish users")
    page.click("#dialog-ok")
    page.wait_for_selector("#segments-table tr[data-segment='Polish users']")
    assert contract.requests[-1] == ("PATCH", "s2", {"name": "Polish users"})

    page.click("#segments-table tr[data-segment='Polish users'] button:has-text('Delete')")
    assert page.text_content("#dialog-text") == 'Delete the segment "Polish users"?'
    page.click("#dialog-ok")
    page.wait_for_selector("#segments-table tr[data-segment='Polish users']", state="detached")
    assert contract.requests[-1] == ("DELETE", "s2", None) and segment_rows(page) == [["Newsletter", "static", "2"]]

    page.click("#segments-table tr[data-segment='Newsletter'] button:has-text('Show users')")
    page.wait_for_function("document.querySelector('#chips').textContent.includes('Segments has newsletter')")
    page.wait_for_function("document.querySelector('#users-table').getAttribute('aria-busy') === 'false'")
    assert page.text_content("#total") == "2 users"
    shown = page.eval_on_selector_all("#users-table tbody tr[data-user-id]", "r => r.map(x => x.dataset.userId)")
    assert sorted(shown) == ["web:a", "web:b"]
    assert page.eval_on_selector_all("#chips .chip span", "s => s.map(x => x.textContent)") == ["Segments has newsletter"]


def test_scheduled_exports_are_added_run_with_history_and_removed(page, base_url, contract):
    open_settings(page, base_url)
    assert page.is_visible("#schedules-panel")
    page.select_option("#schedule-segment", "s1")
    page.fill("#schedule-cron", "0 6 * * *")
    page.fill("#schedule-columns", "user_id, email")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector("#schedules-table tbody tr")
    assert contract.requests[-1] == ("POST", "schedules", {"segment": "s1", "cron": "0 6 * * *",
                                                           "columns": ["user_id", "email"]})
    cells = page.eval_on_selector_all("#schedules-table tbody tr td", "c => c.slice(0, 5).map(x => x.textContent)")
    assert cells == ["Newsletter", "0 6 * * *", "user_id, email", "", "never"]

    page.click("#schedules-table tbody tr button:has-text('Run now')")
    page.wait_for_selector("#schedule-runs tbody tr")
    assert page.eval_on_selector_all("#schedule-runs tbody td", "c => c.map(x => x.textContent)") == \
        ["2026-12-01 12:00", "done", "2", "newsletter-20261201T120000Z.csv", ""]

    page.click("#schedules-table tbody tr button:has-text('Remove')")
    page.click("#dialog-ok")
    page.wait_for_selector("#schedules-table tbody tr", state="detached")
    assert contract.requests[-1][0] == "DELETE" and contract.schedules == {}
