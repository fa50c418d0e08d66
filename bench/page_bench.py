"""`make bench`, part four: the Users page on 1,000,000 users, from navigation to the first page rendered.

The same synthetic users as bench/query_bench.py in embedded chDB, the real HTTP app (pipeline/http/app.py,
served by uvicorn in this process, with the page's static files), and headless Debian Chromium. The page
stamps `performance.now()` (milliseconds since navigation started) once its first page of users is in the
table. Two ways of opening it, each load with nothing cached:

- in a running browser: one tab navigates to the page again and again, with its HTTP cache disabled
  (what a person opening the page sees: every file and the users come over the network);
- in a new browser profile: a fresh context per load, so Chromium also starts a renderer process,
  on the same 2 cores as the server and ClickHouse (the worst case this machine can stage).

Two warm-up loads are not counted. Appends p50/p99 to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from bench.pipeline_bench import machine, report
from bench.query_bench import REQUEST, percentile, synthetic
from consumers.clickhouse import connect
from pipeline.core.bots import Bot
from pipeline.kafka.publisher import MemoryPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.http.app import create_api
from tests.support.browser import chromium
from tests.support.http import serving
from tests.support.user_rows import insert_users

BOT, KEY = "bench", "bench-page-key-0123456789"
TARGET_MS = 300
QUIET_S = 1.0   # longer than any load measured; the stamp, not this wait, is the figure
VIEWS = {   # what is measured: the default list, and the bench filter shared as a link
    "default view (all users, newest last seen first)": "",
    "filtered view (country in 3, attributes.plan = pro, last seen within 30 days)":
        "#filter=" + quote(json.dumps(REQUEST.filter.model_dump(mode="json"))),
}


def load(client, users: int) -> float:
    rng = random.Random(1)
    started = time.perf_counter()
    for offset in range(0, users, 100_000):
        insert_users(client, synthetic(min(100_000, users - offset), BOT, rng, first=offset))
    insert_users(client, synthetic(50_000, "other", rng))   # another tenant in the same table
    return time.perf_counter() - started


def settle(client, timeout: float = 300.0) -> None:
    """Wait until ClickHouse has no merge running: the figures are for a store at rest, not one digesting a load."""
    deadline = time.monotonic() + timeout
    while client.query("SELECT count() FROM system.merges").result_rows[0][0] and time.monotonic() < deadline:
        time.sleep(1)


def app(client, data_dir: Path):
    """The worker's HTTP app on the loaded store (no Kafka: the page only reads)."""
    services = Services(settings=Settings(CHATLENS_DATA_DIR=data_dir), bots={BOT: Bot(bot_id=BOT, api_key=KEY)},
                        publisher=MemoryPublisher(), store=None, clickhouse=client)
    return create_api(services)


SEARCH_MS = """performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/users/search'))
                .map((e) => e.responseEnd - e.startTime)[0]"""


SIGN_IN = f"sessionStorage.setItem('chatlens.signin', {json.dumps(json.dumps({'bot': BOT, 'key': KEY}))})"


def first_rows_ms(page, url: str) -> tuple[float, float, int]:
    """One load: ms from navigation start to the first page of users in the table, ms of its search request."""
    page.goto("about:blank")   # a new document each time, not a same-page hash change
    page.goto(url, wait_until="commit")
    # The page stamps its own time. Polling it during the load would run Playwright's injected script on the
    # renderer the page needs (about 70 ms more per load in a new profile), so first wait without looking.
    time.sleep(QUIET_S)
    page.wait_for_function("document.body.dataset.firstRows", timeout=30_000)
    rows = page.locator("#users-table tbody tr[data-user-id]").count()
    # the total is counted after the rows; let it finish, or its query delays the next load's rows
    page.wait_for_function("document.querySelector('#total').textContent !== '…'", timeout=30_000)
    return float(page.evaluate("document.body.dataset.firstRows")), float(page.evaluate(SEARCH_MS)), rows


@contextmanager
def in_running_browser(browser):
    """One tab, HTTP cache off: each load fetches the page, its files and the users again."""
    context = browser.new_context()
    context.add_init_script(SIGN_IN)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    try:
        yield lambda url: first_rows_ms(page, url)
    finally:
        context.close()


@contextmanager
def in_new_profile(browser):
    """A fresh browser context (profile, renderer process) per load."""
    def one(url: str) -> tuple[float, float, int]:
        context = browser.new_context()
        context.add_init_script(SIGN_IN)
        try:
            return first_rows_ms(context.new_page(), url)
        finally:
            context.close()
    yield one


WAYS = {"in a running browser (one tab, HTTP cache disabled)": in_running_browser,
        "in a new browser profile each load (Chromium starts a renderer beside the server)": in_new_profile}


def measure(load_page, url: str, loads: int) -> dict:
    for _ in range(2):
        load_page(url)
    timings, searches, rows = [], [], 0
    for _ in range(loads):
        ms, search_ms, rows = load_page(url)
        timings.append(ms)
        searches.append(search_ms)
    return {"p50": percentile(timings, 50), "p99": percentile(timings, 99), "rows": rows,
            "search_p50": percentile(searches, 50)}


def run(users: int, loads: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="chatlens-pagebench-") as tmp:
        client = connect(f"chdb://{Path(tmp) / 'chdb'}")
        load_seconds = load(client, users)
        settle(client)
        results, load_before = {}, os.getloadavg()[0]
        with serving(app(client, Path(tmp))) as base:
            with chromium() as browser:
                for way, opened in WAYS.items():
                    with opened(browser) as load_page:
                        for name, fragment in VIEWS.items():
                            results[(way, name)] = measure(load_page, f"{base}/ui/{fragment}", loads)
    return {"users": users, "load_s": load_seconds, "loads": loads, "views": results,
            "load_avg": (load_before, os.getloadavg()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    r = run(args.users, args.loads)
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — Users page — {machine()}", "",
             f"- {r['users']:,} users of one bot (+50,000 of another) in embedded chDB, loaded in {r['load_s']:.0f} s; "
             f"the worker's HTTP app and headless Debian Chromium on the same machine",
             f"- navigation to the first page of users rendered, nothing cached ({r['loads']} loads after 2 warm-up "
             f"loads; target < {TARGET_MS} ms):"]
    for way in WAYS:
        lines.append(f"  - {way}:")
        for name in VIEWS:
            v = r["views"][(way, name)]
            verdict = "within" if v["p99"] < TARGET_MS else "OVER"
            lines.append(f"    - {name}, {v['rows']} rows: **p50 {v['p50']:.0f} ms, p99 {v['p99']:.0f} ms** ({verdict} "
                         f"target); its search request (the page of rows; the total follows) p50 {v['search_p50']:.0f} ms")
    lines.append(f"- 1-minute load average of the machine while measuring: {r['load_avg'][0]:.1f} → {r['load_avg'][1]:.1f} "
                 f"(2 cores; anything above ~1 is other work sharing them)")
    lines.append("")
    report(lines)


if __name__ == "__main__":
    main()
