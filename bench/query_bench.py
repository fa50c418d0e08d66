"""`make bench`, part two: user queries on 1M synthetic users in embedded chDB (the real engine).

The Users page's first screen, sorted by last seen, with three filters including a custom attribute and
with none: p50/p99 of a page as the API reads it (queries/candidates.py) and with the FINAL query it falls
back to, and of counting every match. Appends to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.pipeline_bench import machine, report
from consumers.clickhouse import connect
from queries import users as user_queries
from queries.compiler import compile_search
from schemas.filters import SearchRequest
from tests.support.user_rows import insert_users, user_row

COUNTRIES = ["Poland", "Spain", "Germany", "Brazil", "Japan", "Mexico", "India", "France"]
PLANS = ["free", "pro", "team", "enterprise"]
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def synthetic(n: int, bot_id: str, rng: random.Random, first: int = 0) -> list[dict]:
    rows = []
    for i in range(first, first + n):
        last = NOW - timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        rows.append(user_row(
            f"web:{i:07d}", bot_id, name=f"User {i}", email=f"user{i}@example.com", country=rng.choice(COUNTRIES),
            channels=[rng.choice(["web", "telegram", "messenger", "slack", "livechat"])],
            sessions=rng.randint(1, 20), messages_sent=rng.randint(1, 200), clicks=rng.randint(0, 30),
            time_spent_seconds=rng.uniform(0, 5000), avg_sentiment=rng.uniform(-1, 1),
            first_seen=last - timedelta(days=rng.randint(0, 300)), last_seen=last, last_message_at=last,
            attributes={"plan": rng.choice(PLANS), "seats": str(rng.randint(1, 500))},
            tags=["vip"] if rng.random() < 0.1 else []))
    return rows


REQUEST = SearchRequest.model_validate({
    "filter": {"match": "all", "filters": [
        {"column": "country", "function": "in_list", "value": ["Poland", "Spain", "Germany"]},
        {"column": "attributes.plan", "function": "equals", "value": "pro"},
        {"column": "last_seen", "function": "within_last_days", "value": 30}]},
    "columns": ["name", "email", "country", "sessions", "attributes.plan", "last_seen"], "limit": 50})


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


PAGES = {"the filter above": REQUEST.model_copy(update={"with_total": False}),
         "no filter (the default view)": SearchRequest(limit=50, with_total=False)}


def timed(runs: int, fn) -> list[float]:
    fn()   # a warm-up
    seconds = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t0)
    return seconds


def p50_p99(seconds: list[float]) -> str:
    return f"p50 {percentile(seconds, 50) * 1000:.0f} ms, p99 {percentile(seconds, 99) * 1000:.0f} ms"


def run(users: int, runs: int) -> dict:
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="chatlens-qbench-") as tmp:
        client = connect(f"chdb://{Path(tmp) / 'chdb'}")
        started = time.perf_counter()
        for offset in range(0, users, 100_000):
            insert_users(client, synthetic(min(100_000, users - offset), "bench", rng, first=offset))
        insert_users(client, synthetic(50_000, "other", rng))  # another tenant in the same table
        load_seconds = time.perf_counter() - started
        assert client.query("SELECT count() FROM users FINAL WHERE bot_id = 'bench'").result_rows == [(users,)]
        pages = {}
        for name, request in PAGES.items():
            final = compile_search(request, "bench", now=NOW)
            pages[name] = {   # what the API runs (queries/candidates.py), and the FINAL query it falls back to
                "api": timed(runs, lambda: user_queries.search(client, "bench", request, now=NOW)),
                "final": timed(runs, lambda: client.query(final.sql, parameters=final.parameters))}
        query = compile_search(REQUEST, "bench", now=NOW)
        counts = timed(runs, lambda: client.query(query.count_sql, parameters=query.count_parameters))
        total = client.query(query.count_sql, parameters=query.count_parameters).result_rows[0][0]
    return {"users": users, "load_s": load_seconds, "matches": total, "pages": pages, "counts": counts, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    r = run(args.users, args.runs)
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — user queries — {machine()}", "",
             f"- {r['users']:,} users of one bot (+50,000 of another) in embedded chDB, loaded in {r['load_s']:.0f} s",
             "- filter: country in (Poland, Spain, Germany) AND attributes.plan = pro AND last seen within 30 days, "
             f"sorted by last seen, 50 per page: {r['matches']:,} matches ({r['runs']} runs each)"]
    for name, page in r["pages"].items():
        lines.append(f"- first page, {name}: **{p50_p99(page['api'])}** as the API reads it (by_last_seen "
                     f"projection, verified); {p50_p99(page['final'])} with FINAL")
    lines += [f"- count of all matches: **{p50_p99(r['counts'])}**", ""]
    report(lines)


if __name__ == "__main__":
    main()
