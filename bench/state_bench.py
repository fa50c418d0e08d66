"""`make bench`: a worker's memory with the state of many users (default 1,000,000).

One broker and one `chatlens worker` (embedded chDB); one message from each of N distinct users is produced
straight to the events topic, and the worker's resident memory is read once ClickHouse holds every user
(the users' states live in the stream's RocksDB table, the rows in chDB, both in the worker's process). chDB's
background merges run in that process too: the bench reports the most memory it saw one use.
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.pipeline_bench import machine, report
from bench.stream_bench import broker_and_worker, produce, rss_mib
from bench.traffic import START, tweets
from pipeline.kafka.admin import ensure_topics


def events(users: int) -> list[dict]:
    texts = tweets()
    return [{"event_id": f"m{n}", "bot_id": "kafka", "user_id": f"web:s{n:07}", "kind": "message",
             "direction": "inbound", "channel": "web", "text": texts[n % len(texts)],
             "occurred_at": (START + timedelta(seconds=n)).isoformat()} for n in range(users)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatlens-state-bench-") as tmp:
        broker, worker = broker_and_worker(Path(tmp))
        try:
            ensure_topics(broker.bootstrap, partitions=4)
            worker.start()
            started, peak = time.perf_counter(), 0.0
            every = events(args.users)
            for start in range(0, args.users, 100_000):
                asyncio.run(produce(broker.bootstrap, every[start:start + 100_000]))
            merge = (0.0, "")   # the most memory a background merge of chDB was seen using, and its table
            while worker.sql("SELECT count() FROM users FINAL WHERE bot_id = 'kafka'") != [[args.users]]:
                peak = max(peak, rss_mib(worker.proc.pid)[0])
                for _ in range(4):
                    merge = max([merge, *largest_merges(worker)])
                    time.sleep(0.5)
            seconds = time.perf_counter() - started
            rss, high = rss_mib(worker.proc.pid)
        finally:
            worker.stop()
            broker.stop()
    report([f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — worker memory with many users' state — {machine()}", "",
            f"- {args.users:,} users, one message each, straight to Kafka: stored in {seconds:,.0f} s "
            f"({args.users / seconds:,.0f} events/s); **worker RSS {rss:,.0f} MiB** once ClickHouse held every "
            f"user (highest seen while it ran {max(peak, rss):,.0f} MiB, kernel peak {high:,.0f} MiB); the largest "
            f"background merge of chDB seen used {merge[0]:,.0f} MiB ({merge[1] or 'none seen'})", ""])


def largest_merges(worker) -> list[tuple[float, str]]:
    """The memory (MiB) and table of chDB's merges running now: they run in the worker's process (embedded chDB),
    and a merge of the users table rebuilds its by_last_seen projection (queries/migrations/0006) in memory."""
    return [(memory / 2**20, table) for table, memory in
            worker.sql("SELECT table, memory_usage FROM system.merges")]


if __name__ == "__main__":
    main()
