"""The Users page in headless Chromium against a real worker with demo traffic: what a person sees.

Each test compares the screen with the API's own answer for the same question, so the page can
neither invent nor drop users. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import sign_in
from tests.support.worker import CHATLENS

pytestmark = pytest.mark.e2e

# bots of their own: other modules share the broker and its topic
SHOP, SHOP_KEY, SHOP_USERS = "pageshop", "pageshop-key-0123456789", 60
RIVAL, RIVAL_KEY, RIVAL_USERS = "pagerival", "pagerival-key-0123456789", 8
DEFAULT_HEADERS = ["Name", "Email", "Last seen", "First seen"]


def api(worker, method: str, path: str, body=None, bot: str = SHOP, key: str = SHOP_KEY):
    response = httpx.request(method, f"{worker.url}/v1/bots/{bot}{path}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {key}"})
    response.raise_for_status()
    return response.json()


def search(worker, body: dict, **kw) -> dict:
    return api(worker, "POST", "/users/search", {"limit": 50, **body}, **kw)


def wait_until_settled(worker, bot: str, users: int) -> None:
    """Every demo user is a row and every message of the events table is in messages."""
    counts = ("SELECT (SELECT count() FROM users FINAL WHERE bot_id = {bot:String} AND is_deleted = 0), "
              "(SELECT count() FROM messages FINAL WHERE bot_id = {bot:String}) = "
              "(SELECT count() FROM events FINAL WHERE bot_id = {bot:String} AND kind = 'message')")
    got = worker.wait_for(counts, [[users, True]], timeout=120, bot=bot)
    assert got == [[users, True]], worker.log_tail()


@pytest.fixture(scope="module")
def worker(kafka_broker, tmp_path_factory):
    from tests.e2e.conftest import start_worker_for_bots
    tmp = tmp_path_factory.mktemp("users-page")
    worker = start_worker_for_bots(kafka_broker, tmp, {SHOP: SHOP_KEY, RIVAL: RIVAL_KEY}, "e2e-users-page")
    for bot, users, seed in ((SHOP, SHOP_USERS, 21), (RIVAL, RIVAL_USERS, 22)):
        sent = subprocess.run([CHATLENS, "demo", "--bot", bot, "--users", str(users), "--seed", str(seed),
                               "--url", worker.url], env={**os.environ, "CHATLENS_BOTS_FILE": str(tmp / "bots.toml")},
                              capture_output=True, text=True, timeout=300)
        assert sent.returncode == 0, sent.stdout + sent.stderr
    for bot, users in ((SHOP, SHOP_USERS), (RIVAL, RIVAL_USERS)):
        wait_until_settled(worker, bot, users)
    yield worker
    worker.kill()



def signed_in(page, worker, bot=SHOP, key=SHOP_KEY, path="/ui/"):
    sign_in(page, worker.url, bot, key, path)
    page.wait_for_selector("body[data-ready]", state="attached")   # the first page is shown, every control wired
    page.wait_for_function("document.querySelector('#users-table').getAttribute('aria-busy') === 'false'")
    return page


def shown_ids(page) -> list[str]:
    return page.eval_on_selector_all("#users-table tbody tr[data-user-id]", "rows => rows.map(r => r.dataset.userId)")


def column_texts(page, column: str) -> list[str]:
    return page.eval_on_selector_all(f"#users-table tbody td[data-column='{column}']",
                                     "cells => cells.map(c => c.textContent)")


def headers(page) -> list[str]:
    return page.eval_on_selector_all("#users-table thead th[data-column]", "ths => ths.map(t => t.textContent)")


def settle(page):
    page.wait_for_function("document.querySelector('#users-table').getAttribute('aria-busy') === 'false'")


def when(value: str | None) -> str:
    return "" if not value else datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def score(value: float) -> str:
    return f"{'+' if value > 0 else ''}{value:.2f}"


def add_filter(page, column: str, function: str, *values: str) -> None:
    page.click("#add-filter")
    page.select_option("#filter-column", column)
    page.select_option("#filter-function", function)
    for i, value in enumerate(values):
        page.locator("#filter-values input").nth(i).fill(value)
    page.click("#filter-editor button[type=submit]")
    settle(page)


def test_sign_in_shows_default_columns_newest_first_and_the_total(page, worker):
    signed_in(page, worker)
    assert headers(page) == DEFAULT_HEADERS
    assert page.text_content("#total") == f"{SHOP_USERS} users"
    want = search(worker, {})
    assert shown_ids(page) == [u["user_id"] for u in want["users"]] and len(want["users"]) == 50
    assert column_texts(page, "email") == [u["email"] or "" for u in want["users"]]
    assert column_texts(page, "last_seen") == [when(u["last_seen"]) for u in want["users"]]
    assert page.get_attribute("th[data-column='last_seen']", "aria-sort") == "descending"
    assert page.evaluate("JSON.parse(sessionStorage.getItem('chatlens.signin')).key") == SHOP_KEY


def test_wrong_key_is_rejected_with_a_clear_error(page, worker):
    sign_in(page, worker.url, SHOP, RIVAL_KEY)   # a real key, of another bot
    error = page.locator("#signin-error")
    error.wait_for()
    page.wait_for_function("document.querySelector('#signin-error').textContent !== ''")
    assert error.text_content() == "Wrong bot id or API key: this key does not open that bot."
    assert page.is_hidden("#app") and page.evaluate("sessionStorage.getItem('chatlens.signin')") is None


def test_another_bot_sees_only_its_own_users(page, worker):
    signed_in(page, worker, RIVAL, RIVAL_KEY)
    rival = [u["user_id"] for u in search(worker, {}, bot=RIVAL, key=RIVAL_KEY)["users"]]
    shop = {u["user_id"] for u in search(worker, {"limit": 1000})["users"]}
    assert shown_ids(page) == rival and len(rival) == RIVAL_USERS
    assert page.text_content("#total") == f"{RIVAL_USERS} users"
    assert not set(rival) & shop   # nothing of the shop bot on the rival's page


def test_filter_builder_shows_what_the_api_answers_and_the_url_restores_it(page, worker, browser):
    signed_in(page, worker)
    page.click("#add-filter")
    page.select_option("#filter-column", "sessions")
    offered = page.eval_on_selector_all("#filter-function option", "os => os.map(o => o.value)")
    assert offered == ["eq", "ne", "gt", "gte", "lt", "lte", "between"]   # only the catalogue's functions
    page.click("#filter-cancel")
    add_filter(page, "sessions", "gte", "2")
    add_filter(page, "channel", "has_not", "web")
    filter_ = {"match": "all", "filters": [{"column": "sessions", "function": "gte", "value": 2},
                                           {"column": "channel", "function": "has_not", "value": "web"}]}
    want = search(worker, {"filter": filter_})
    assert 0 < want["total"] < SHOP_USERS
    assert page.eval_on_selector_all("#chips .chip span", "s => s.map(x => x.textContent)") == \
        ["Sessions ≥ 2", "Channel does not have web"]
    assert shown_ids(page) == [u["user_id"] for u in want["users"]]
    assert page.text_content("#total") == f"{want['total']} users"

    page.select_option("#match", "any")
    settle(page)
    either = search(worker, {"filter": {**filter_, "match": "any"}})
    assert shown_ids(page) == [u["user_id"] for u in either["users"]] and either["total"] != want["total"]
    page.select_option("#match", "all")
    settle(page)

    shared = page.url
    assert json.loads(parse_qs(shared.split("#", 1)[1])["filter"][0]) == filter_
    other = browser.new_context().new_page()   # someone the link was sent to: signs in, sees the same view
    signed_in(other, worker, path="/ui/#" + shared.split("#", 1)[1])
    assert other.url == shared
    assert other.eval_on_selector_all("#chips .chip span", "s => s.map(x => x.textContent)") == \
        ["Sessions ≥ 2", "Channel does not have web"]
    assert shown_ids(other) == [u["user_id"] for u in want["users"]]
    other.reload()   # a reload keeps the sign-in (this tab's sessionStorage) and the view
    other.wait_for_selector("body[data-ready]", state="attached")
    settle(other)
    assert shown_ids(other) == [u["user_id"] for u in want["users"]]
    other.context.close()

    page.click("#chips .chip:first-child button")   # removing a chip
    settle(page)
    rest = search(worker, {"filter": {"match": "all", "filters": filter_["filters"][1:]}})
    assert shown_ids(page) == [u["user_id"] for u in rest["users"]]


def test_sort_by_a_header_and_page_with_the_cursor(page, worker):
    signed_in(page, worker)
    page.click("th[data-column='email']")
    settle(page)
    by_email = search(worker, {"sort": {"column": "email", "direction": "asc"}})
    assert page.get_attribute("th[data-column='email']", "aria-sort") == "ascending"
    assert shown_ids(page) == [u["user_id"] for u in by_email["users"]]
    assert "sort=%2Bemail" in page.url
    page.click("#next")
    settle(page)
    second = search(worker, {"sort": {"column": "email", "direction": "asc"}, "cursor": by_email["next_cursor"]})
    assert shown_ids(page) == [u["user_id"] for u in second["users"]] and len(second["users"]) == SHOP_USERS - 50
    assert page.text_content("#page") == "Page 2" and page.is_disabled("#next")
    page.click("#prev")
    settle(page)
    assert shown_ids(page) == [u["user_id"] for u in by_email["users"]] and page.is_disabled("#prev")


def test_column_chooser_and_a_bulk_tag_on_selected_rows(page, worker):
    signed_in(page, worker)
    page.click("#choose-columns")
    page.check("#column-chooser input[data-column='tags']")
    page.check("#column-chooser input[data-column='sessions']")
    settle(page)
    page.fill("#column-attribute", "plan")
    page.click("#column-chooser form button[type=submit]")
    settle(page)
    assert headers(page) == DEFAULT_HEADERS + ["Tags", "Sessions", "plan"]
    page.click("#total")   # a click elsewhere closes the chooser
    assert page.is_hidden("#column-chooser")
    assert "columns=name%2Cemail%2Clast_seen%2Cfirst_seen%2Ctags%2Csessions%2Cattributes.plan" in page.url
    want = search(worker, {"columns": ["sessions"]})
    assert column_texts(page, "sessions") == [str(u["sessions"]) for u in want["users"]]

    ids = shown_ids(page)
    chosen = ids[1:3]
    for user_id in chosen:
        page.check(f"tr[data-user-id='{user_id}'] input[type=checkbox]")
    assert page.text_content("#selected-count") == "2 selected" and page.is_checked("#scope-selected")
    page.click("button[data-action='add_tag']")
    page.fill("#dialog-fields input[name=tag]", "ui-vip")
    page.click("#dialog-ok")
    page.wait_for_function("document.querySelector('#status').textContent === '2 users updated'")
    for user_id in chosen:
        page.locator(f"tr[data-user-id='{user_id}'] td[data-column='tags']").get_by_text("ui-vip").wait_for(timeout=15000)
    tagged = search(worker, {"filter": {"filters": [{"column": "tags", "function": "has", "value": "ui-vip"}]}})
    assert sorted(u["user_id"] for u in tagged["users"]) == sorted(chosen)
    texts = dict(zip(shown_ids(page), column_texts(page, "tags")))
    assert [i for i, t in texts.items() if "ui-vip" in t] == chosen

    page.check("#select-page")   # select all on the page
    assert page.text_content("#selected-count") == f"{len(ids)} selected"
    page.uncheck("#select-page")
    assert page.text_content("#selected-count") == "0 selected" and page.is_checked("#scope-matching")


def test_user_detail_shows_the_transcript_with_sentiment_and_edits_the_name(page, worker, artifacts_dir):
    signed_in(page, worker)
    everyone = search(worker, {"limit": 100, "columns": ["messages_sent"],
                               "sort": {"column": "messages_sent", "direction": "desc"}})["users"]
    user_id = everyone[0]["user_id"]
    page.click("#add-filter")   # find them through the list, as a person would
    page.select_option("#filter-column", "user_id")
    page.select_option("#filter-function", "equals")
    page.fill("#filter-values input", user_id)
    page.click("#filter-editor button[type=submit]")
    page.wait_for_function("ids => [...document.querySelectorAll('#users-table tbody tr')].map(r => r.dataset.userId).join() === ids", arg=user_id)
    page.click(f"tr[data-user-id='{user_id}'] td[data-column='email']")
    page.wait_for_selector("#transcript .msg")

    detail = api(worker, "GET", f"/users/{user_id}")
    chats = api(worker, "GET", f"/users/{user_id}/transcript")["sessions"]
    assert page.text_content("#detail-title") == (detail["profile"]["name"] or user_id)
    assert page.input_value("#edit-email") == (detail["profile"]["email"] or "")
    messages = [m for group in chats for m in group["messages"]]
    assert len(messages) >= 4
    assert page.eval_on_selector_all("#transcript .msg .text", "t => t.map(x => x.textContent)") == \
        [m["text"] or f"[{len(m['attachments'])} attachment(s)]" for m in messages]
    scored = [m for m in messages if m["direction"] == "inbound" and m["sentiment"] is not None]
    assert page.eval_on_selector_all("#transcript .msg .sentiment", "s => s.map(x => x.textContent)") == \
        [score(m["sentiment"]) for m in scored]
    classes = page.eval_on_selector_all("#transcript .msg .sentiment", "s => s.map(x => x.className)")
    assert classes == [f"sentiment {'pos' if m['sentiment'] >= 0.05 else 'neg' if m['sentiment'] <= -0.05 else 'neu'}"
                       for m in scored]
    assert page.locator("#transcript section.session").count() == len(chats)
    assert page.locator("#detail-chart circle.sentiment-point").count() == len(detail["sentiment_history"])
    assert page.locator("#detail-chart rect.activity").count() >= 1
    page.locator("#detail-chart").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "users-page-detail-chart-and-transcript.png"))
    assert page.is_hidden("#profile-more")
    page.click("#see-more")
    assert page.is_visible("#profile-more")

    page.fill("#edit-name", "Renamed In The Browser")
    page.click("form.editable:has(#edit-name) button")
    page.wait_for_function("document.querySelector('#detail-title')?.textContent === 'Renamed In The Browser'", timeout=15000)
    assert api(worker, "GET", f"/users/{user_id}")["profile"]["name"] == "Renamed In The Browser"
    page.fill("#attr-key", "plan")
    page.fill("#attr-value", "pro")
    page.click("form.editable:has(#attr-key) button")
    page.locator("#detail-attributes tr", has_text="plan").wait_for(timeout=15000)
    assert page.text_content("#detail-attributes tr:has-text('plan') td") == "pro"
    assert api(worker, "GET", f"/users/{user_id}")["attributes"] == {"plan": "pro"}


def read_csv(download) -> list[dict]:
    return list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))


def test_export_csv_downloads_the_filtered_users(page, worker):
    signed_in(page, worker)
    add_filter(page, "sessions", "gte", "2")
    filter_ = {"match": "all", "filters": [{"column": "sessions", "function": "gte", "value": 2}]}
    want = search(worker, {"filter": filter_, "limit": 1000})["users"]
    with page.expect_download() as info:
        page.click("#export")
    rows = read_csv(info.value)
    assert list(rows[0]) == ["user_id", "name", "email", "last_seen", "first_seen"]
    assert sorted((r["user_id"], r["name"], r["email"]) for r in rows) == \
        sorted((u["user_id"], u["name"] or "", u["email"] or "") for u in want)
    page.wait_for_function("document.querySelector('#status').textContent === 'Exported %d users to CSV'" % len(want))


def test_a_large_export_runs_as_a_job_with_progress_and_a_download_button(page, worker):
    signed_in(page, worker, path="/ui/?export_direct_limit=0")   # every export a job, as above 10,000 users
    with page.expect_download(timeout=30000) as info:
        page.click("#export")
        page.locator("#download-file").click(timeout=30000)
    assert re.fullmatch(r" Ready: 60 rows\. ", page.text_content("#export-text"))
    assert page.get_attribute("#export-progress progress", "value") == "1"
    rows = read_csv(info.value)
    assert sorted(r["user_id"] for r in rows) == sorted(u["user_id"] for u in search(worker, {"limit": 1000})["users"])


def test_settings_change_the_inactivity_window_and_list_segments(page, worker):
    signed_in(page, worker)
    api(worker, "POST", "/users/actions", {"action": "add_to_segment", "segment": "newsletter",
                                           "filter": {"filters": [{"column": "channel", "function": "has", "value": "web"}]}})
    webs = search(worker, {"filter": {"filters": [{"column": "channel", "function": "has", "value": "web"}]}})["total"]
    page.click(".tabs button[data-tab='settings']")
    page.wait_for_function("document.querySelector('#inactivity').value !== ''")
    assert page.input_value("#inactivity") == "10"
    page.fill("#inactivity", "15")
    page.click("#window-form button")
    page.wait_for_function("document.querySelector('#window-status').textContent !== ''")
    assert page.text_content("#window-status") == "Saved: sessions end after 15 minutes of inactivity"
    assert api(worker, "GET", "/settings") == {"inactivity_minutes": 15.0}
    api(worker, "PUT", "/settings", {"inactivity_minutes": 10})
    for _ in range(30):   # the segment events reach ClickHouse in a second or two
        if any(s["segment"] == "newsletter" and s["members"] == webs for s in api(worker, "GET", "/segments")["segments"]):
            break
        page.wait_for_timeout(300)
    page.click(".tabs button[data-tab='users']")
    page.click(".tabs button[data-tab='settings']")
    row = page.locator("#segments-table tr[data-segment='newsletter']")
    # the row may still show the count of the first visit (events were arriving) until this visit's reload lands
    expect(row.locator("td.members")).to_have_text(str(webs))
    schedules = httpx.get(f"{worker.url}/v1/bots/{SHOP}/schedules", headers={"Authorization": f"Bearer {SHOP_KEY}"})
    assert page.is_hidden("#schedules-panel") == (schedules.status_code == 404)
    row.get_by_role("button", name="Show users").click()
    settle(page)
    assert page.text_content("#total") == f"{webs} users"


def test_refresh_stats_shows_what_changed_elsewhere(page, worker):
    tagged = {"filters": [{"column": "tags", "function": "has", "value": "from-elsewhere"}]}
    signed_in(page, worker, path="/ui/#filter=" + json.dumps({"match": "all", **tagged}))
    assert page.text_content("#total") == "0 users" and shown_ids(page) == []
    someone = search(worker, {})["users"][5]["user_id"]
    api(worker, "POST", "/users/actions", {"action": "add_tag", "tag": "from-elsewhere", "user_ids": [someone]})
    for _ in range(50):   # the API shows it once the event is in ClickHouse
        if search(worker, {"filter": tagged})["total"] == 1:
            break
        page.wait_for_timeout(200)
    assert page.text_content("#total") == "0 users"   # nothing moves until asked
    page.click("#refresh")
    page.wait_for_function("document.querySelector('#status').textContent === 'Stats refreshed'")
    assert page.text_content("#total") == "1 user" and shown_ids(page) == [someone]


def test_set_attribute_on_everyone_matching_the_filter(page, worker):
    signed_in(page, worker)
    add_filter(page, "channel", "has", "telegram")
    telegram = {"filters": [{"column": "channel", "function": "has", "value": "telegram"}]}
    want = search(worker, {"filter": telegram, "limit": 1000})
    assert page.is_checked("#scope-matching")
    assert page.text_content("#matching-count") == f"everyone matching the filter ({want['total']})"
    page.click("button[data-action='set_attribute']")
    assert page.text_content("#dialog-text") == f"For all {want['total']} users matching the filter."
    page.fill("#dialog-fields input[name=key]", "reached_by")
    page.fill("#dialog-fields input[name=value]", "ui")
    page.click("#dialog-ok")
    page.wait_for_function("n => document.querySelector('#status').textContent === `${n} users updated`", arg=want["total"])
    marked = {"filters": [{"column": "attributes.reached_by", "function": "equals", "value": "ui"}]}
    for _ in range(50):
        if search(worker, {"filter": marked, "limit": 1000})["total"] == want["total"]:
            break
        page.wait_for_timeout(200)
    got = search(worker, {"filter": marked, "limit": 1000})["users"]
    assert sorted(u["user_id"] for u in got) == sorted(u["user_id"] for u in want["users"])


def test_delete_asks_first_and_then_removes_the_user(page, worker):
    signed_in(page, worker)
    victim = shown_ids(page)[0]
    page.check(f"tr[data-user-id='{victim}'] input[type=checkbox]")
    page.click("button[data-action='delete']")
    assert page.text_content("#dialog-text") == ("Delete 1 selected user? Their profile, sessions and messages "
                                                 "are erased; this cannot be undone.")
    page.click("#dialog-cancel")
    assert search(worker, {"limit": 1000})["total"] == SHOP_USERS
    page.click("button[data-action='delete']")
    page.click("#dialog-ok")
    page.wait_for_function("document.querySelector('#status').textContent === '1 user updated'")
    page.wait_for_function(f"document.querySelector('#total').textContent === '{SHOP_USERS - 1} users'", timeout=15000)
    assert victim not in shown_ids(page)
    assert search(worker, {"limit": 1000})["total"] == SHOP_USERS - 1


def test_the_page_works_under_its_security_headers_and_the_policy_blocks_nothing_of_it(browser, worker):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})   # the policy enforced
    page = context.new_page()
    blocked, errors = [], []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        first = page.goto(worker.url + "/ui/")
        policy = first.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy and first.headers["x-content-type-options"] == "nosniff"
        assert first.headers["x-frame-options"] == "DENY" and first.headers["referrer-policy"] == "no-referrer"
        page.fill("#signin-bot", SHOP)
        page.fill("#signin-key", SHOP_KEY)
        page.click("#signin-form button[type=submit]")
        page.wait_for_selector("body[data-ready]", state="attached")
        page.wait_for_selector("#users-table[aria-busy='false'] tbody tr[data-user-id]")
        assert len(page.query_selector_all("#users-table tbody tr[data-user-id]")) == 50
        assert blocked == [] and errors == []
    finally:
        context.close()


@pytest.mark.parametrize("behind, shown", [(42.4, r"Data as of \S.* \(the stream is 42 s behind\)"), (2.0, None)])
def test_the_page_says_how_old_its_data_is_when_the_stream_is_behind(page, worker, behind, shown):
    checks = []

    def health(route):
        checks.append(behind)
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps({"status": "ok", "stream": {"ok": True, "behind_seconds": behind}}))

    page.route("**/health", health)
    signed_in(page, worker)
    badge = page.locator("#freshness")
    for _ in range(100):   # the page checks at start
        if checks:
            break
        page.wait_for_timeout(50)
    assert checks, "the page never asked /health"
    if shown:
        expect(badge).to_be_visible()
        assert re.fullmatch(shown, badge.text_content()), badge.text_content()
    else:
        page.wait_for_timeout(200)
        expect(badge).to_be_hidden()
