"""`make bench`: `chatlens rebuild` of a large raw store (default 1,000,000 events) on embedded chDB.

The realistic traffic of bench/traffic.py (Zipf-like users, VADER's evaluation tweets, every kind) is
stored as raw events, then consumers.rebuild.rebuild recomputes every projection into fresh tables and
compares them with the live ones (empty here, so every row differs: the comparison runs in full).
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.pipeline_bench import machine, report
from bench.traffic import traffic
from consumers.clickhouse import connect
from consumers.rebuild import rebuild
from queries.events import EVENT_COLUMNS


def store(client, events: list[dict]) -> None:
    """The raw events as the sink stores them, column-wise in blocks of 100,000."""
    received = datetime.now(UTC)
    for start in range(0, len(events), 100_000):
        block = events[start:start + 100_000]
        payloads = [json.dumps({**e, "received_at": received.isoformat()}, ensure_ascii=False) for e in block]
        columns = [[e["bot_id"] for e in block], [e["user_id"] for e in block], [e["event_id"] for e in block],
                   [e["kind"] for e in block], [e["channel"] for e in block],
                   [datetime.fromisoformat(e["occurred_at"]) for e in block], [received] * len(block), payloads]
        client.insert("events", columns, column_names=list(EVENT_COLUMNS), column_oriented=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--busiest", type=int, default=20_000, help="events of the busiest user")
    args = parser.parse_args()
    made = traffic("rebuild", args.users, args.events, seed=7, busiest=args.busiest)
    with tempfile.TemporaryDirectory(prefix="chatlens-rebuild-bench-") as tmp:
        client = connect(f"chdb://{Path(tmp) / 'store'}")
        store(client, made.events)
        started, last = time.perf_counter(), [0.0]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 10:
                last[0] = time.perf_counter()
                print(f"  {done:,} of {total:,} users ({time.perf_counter() - started:.0f} s)", flush=True)

        result = rebuild(client, window_for=lambda bot: timedelta(minutes=10), grace=timedelta(hours=24),
                         progress=progress)
        seconds = time.perf_counter() - started
        messages = client.query("SELECT count() FROM messages").result_rows[0][0]
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — rebuild — {machine()}", "",
             f"- {len(made.events):,} raw events of {result.users:,} users (Zipf-like, the busiest "
             f"{args.busiest:,}; bench/traffic.py): **`chatlens rebuild` in {seconds:,.0f} s** "
             f"({len(made.events) / seconds:,.0f} events/s), {result.rows:,} rows written, "
             f"differences {sum(result.differences.values()):,} (the live tables were empty; {messages} live "
             "messages)", ""]
    report(lines)


if __name__ == "__main__":
    main()
