"""`make bench`: throughput of the whole pipeline against a bare consume loop, and of sentiment.

Starts its own Kafka broker and a real `chatlens worker` (embedded chDB), produces synthetic chat
events straight onto the events topic, and measures until ClickHouse holds every projection row.
Results are printed and appended to bench/RESULTS.md with the machine they came from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.bench_sentiment import measure as sentiment_rate
from pipeline.kafka import topics
from pipeline.kafka.broker import LocalBroker
from pipeline.kafka.admin import ensure_topics
from tests.support.ports import free_port, free_port_pair
from tests.support.worker import WorkerProcess

RESULTS = Path(__file__).with_name("RESULTS.md")
TEXTS = ["hello", "hahaha 😀", "so slow!", "thanks 😍", "where is my order?", "ok 👍", "this is broken 😡"]


def events(n: int, users: int) -> list[tuple[bytes, bytes]]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        user = f"web:bench-{i % users}"
        at = start + timedelta(seconds=30 * (i // users))
        event = {"kind": "message", "event_id": f"b{i}", "bot_id": "bench", "user_id": user,
                 "occurred_at": at.isoformat(), "direction": "inbound", "text": TEXTS[i % len(TEXTS)]}
        out.append((f"bench:{user}".encode(), json.dumps(event).encode()))
    return out


async def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=262144)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topics.EVENTS, value=v, key=k) for k, v in records])
    finally:
        await producer.stop()


async def bare_consume(bootstrap: str, n: int) -> float:
    """Events/s of a plain consumer reading the same topic: the ceiling for any processing."""
    consumer = AIOKafkaConsumer(topics.EVENTS, bootstrap_servers=bootstrap, group_id=f"bare-{time.time()}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    seen, started = 0, time.perf_counter()
    try:
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10000)).values():
                seen += sum(1 for r in records if json.loads(r.value))
    finally:
        await consumer.stop()
    return n / (time.perf_counter() - started)


def run(n: int, users: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="chatlens-bench-") as tmp:
        broker = LocalBroker(Path(tmp) / "kafka", port=free_port_pair())
        broker.start()
        bots = Path(tmp) / "bots.toml"
        bots.write_text('[bots.bench]\napi_key = "bench-api-key-0123456789"\n')
        worker = WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_DATA_DIR": str(Path(tmp) / "data"),
                                "CHATLENS_BOTS_FILE": str(bots), "CHATLENS_HTTP_PORT": str(free_port()),
                                "CHATLENS_ADMIN_KEY": "bench", "CHATLENS_LOG_LEVEL": "warning"},
                               Path(tmp) / "worker.log")
        try:
            ensure_topics(broker.bootstrap, partitions=4)
            records = events(n, users)
            worker.start()
            started = time.perf_counter()
            asyncio.run(produce(broker.bootstrap, records))
            query = "SELECT count() FROM messages FINAL WHERE bot_id = 'bench'"
            while worker.sql(query) != [[n]]:
                time.sleep(0.25)
            pipeline = n / (time.perf_counter() - started)
            assert worker.sql("SELECT sum(messages_sent) FROM users FINAL WHERE bot_id = 'bench'") == [[n]]
            worker.stop()
            bare = asyncio.run(bare_consume(broker.bootstrap, n))
        finally:
            worker.stop()
            broker.stop()
    return {"events": n, "users": users, "pipeline_events_per_s": pipeline, "bare_consume_events_per_s": bare,
            "ratio": pipeline / bare, "sentiment_messages_per_s": sentiment_rate()}


def report(lines: list[str]) -> None:
    """Print the figures and append them to bench/RESULTS.md."""
    print("\n".join(lines))
    with RESULTS.open("a") as out:
        out.write("\n".join(lines) + "\n")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=5_000)
    args = parser.parse_args()
    result = run(args.events, args.users)
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}", "",
             f"- whole pipeline ({result['events']} events of {result['users']} users produced to a running worker, "
             f"timed until ClickHouse holds every message and user row; Kafka → Faust projection → rows topic "
             f"→ ClickHouse sink): **{result['pipeline_events_per_s']:,.0f} events/s**",
             f"- bare aiokafka consume loop on the same topic: **{result['bare_consume_events_per_s']:,.0f} events/s**",
             f"- ratio pipeline / bare consume: **{result['ratio']:.3f}**",
             f"- sentiment (`pipeline.core.sentiment` with its cache bypassed: every message scored by VADER): **{result['sentiment_messages_per_s']:,.0f} messages/s**", ""]
    report(lines)


if __name__ == "__main__":
    main()
