"""`make bench`: bulk deletions as the sink writes them, on embedded chDB.

A bot's operator deletes users in bulk (the Users page's bulk action, or `POST …/users/actions`): each becomes a
`user_deleted` event, and the sink must erase the user's sessions, messages and raw events up to that time. The
realistic traffic of bench/traffic.py (default 200,000 events of 20,000 users) is folded by the stream's fold and
written by the sink's store (consumers.clickhouse.ClickHouseProjectionStore); then deletions of 10, 100, 1,000 and
5,000 of those users are folded and written, each as one sink batch, and timed until the store has erased them.
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime

from bench.fold_instructions import fold_into
from bench.pipeline_bench import machine, report
from bench.traffic import traffic
from consumers.clickhouse import ClickHouseProjectionStore, connect
from pipeline.core.projection import coalesce
from pipeline.core.sentiment import score

BATCH = 5_000
DELETIONS = (10, 100, 1_000, 5_000)
LEFT = "SELECT count() FROM {table} WHERE bot_id = 'erase' AND user_id IN {{users:Array(String)}} {kept}"


class Pipeline:
    """The stream's fold (its table between batches) and the sink's store, without Kafka."""

    def __init__(self, client) -> None:
        self.store, self.table = ClickHouseProjectionStore(client), {}  # the table: states and id index
        self.received = datetime.now(UTC).isoformat()

    def write(self, events: list[dict]) -> None:
        for start in range(0, len(events), BATCH):
            values = [json.dumps({**e, "received_at": self.received}).encode() for e in events[start:start + BATCH]]
            self.store.write(coalesce(fold_into(self.table, values, score)))


def run(events: int, users: int, deletions: tuple[int, ...] = DELETIONS) -> dict:
    run_ = traffic("erase", users, events, seed=5, busiest=events // 40)
    with tempfile.TemporaryDirectory(prefix="chatlens-erasure-bench-") as tmp:
        client = connect(f"chdb://{tmp}/db", "chatlens")
        pipeline = Pipeline(client)
        print(f"storing {len(run_.events):,} events of {users:,} users...")
        pipeline.write(run_.events)
        last = max(e["occurred_at"] for e in run_.events)
        ids = sorted({e["user_id"] for e in run_.events})
        timings, start = {}, 0
        for count in deletions:
            chosen, start = ids[start:start + count], start + count
            gone = [{"kind": "user_deleted", "event_id": f"gone-{user}", "bot_id": "erase", "user_id": user,
                     "channel": "web", "occurred_at": last} for user in chosen]
            began = time.perf_counter()
            pipeline.write(gone)
            timings[count] = time.perf_counter() - began
            left = sum(client.query(LEFT.format(table=table, kept=kept), parameters={"users": chosen}).result_rows[0][0]
                       for table, kept in (("messages", ""), ("sessions", ""),
                                           ("events", "AND kind != 'user_deleted'")))
            assert left == 0, f"{left} rows of {count} deleted users left"
            print(f"{count:,} users deleted in {timings[count]:.2f} s")
    return {"events": len(run_.events), "users": users, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--deletions", default=",".join(map(str, DELETIONS)),
                        help="users deleted in each timed sink batch, comma-separated (default %(default)s)")
    args = parser.parse_args()
    result = run(args.events, args.users, tuple(int(n) for n in args.deletions.split(",")))
    per = "; ".join(f"{count:,} users in {seconds:.2f} s ({count / seconds:,.0f} users/s)"
                    for count, seconds in result["timings"].items())
    report([f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — bulk deletions as the sink writes them — {machine()}", "",
            f"- {result['events']:,} events of {result['users']:,} users stored through the stream's fold and the "
            f"sink's store (embedded chDB); deletions written as one sink batch each, timed until every session, "
            f"message and raw event of those users is erased: {per}", ""])


if __name__ == "__main__":
    main()
