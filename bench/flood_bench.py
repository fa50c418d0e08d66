"""`make bench`: a worker's memory under a flood of the largest events the events API accepts.

One broker and one `chatlens worker` (embedded chDB); N messages (default 2,000) of 500 users, each text
65,536 emoji (the most characters a text may have: 256 KB as canonical JSON, under the 384 KiB event
limit), are produced straight to the events topic as the API writes them, faster than the worker folds them.
Faust bounds what a stream holds by records, so without the byte budgets (CHATLENS_STREAM_BUFFER_MIB,
CHATLENS_SINK_BATCH_MIB) the worker's memory grew with the flood. Reports the highest resident memory
seen (sampled every 0.2 s, and the kernel's peak), the events/s, and that every event was stored.
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from bench.pipeline_bench import machine, report
from bench.stream_bench import broker_and_worker, markers, rss_mib, wait_markers
from bench.traffic import START
from pipeline.kafka import topics
from pipeline.kafka.admin import ensure_topics
from pipeline.settings import Settings
from schemas.events import parse_event, to_json
from schemas.limits import MAX_TEXT_CHARS, PRODUCER_MAX_REQUEST_BYTES

EMOJI = "😀🙂😡👍🎉😢🔥❤🙏😂"


def keyed(event: dict) -> tuple[bytes, bytes]:
    """(Kafka key, canonical JSON) of an event, as the events API writes it."""
    parsed = parse_event(event)
    return topics.event_key(parsed), to_json(parsed)


def flood(count: int, seed: int = 7) -> list[tuple[bytes, bytes]]:
    """`count` messages whose texts are MAX_TEXT_CHARS emoji (a 64-emoji run repeated), keyed."""
    rnd = random.Random(seed)
    received = datetime.now(UTC).isoformat()
    return [keyed({"event_id": f"flood-{n}", "bot_id": "kafka", "user_id": f"web:flood-{n % 500}",
                   "kind": "message", "direction": "inbound", "channel": "web", "received_at": received,
                   "text": "".join(rnd.choice(EMOJI) for _ in range(64)) * (MAX_TEXT_CHARS // 64),
                   "occurred_at": (START + timedelta(seconds=n)).isoformat()}) for n in range(count)]


async def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_request_size=PRODUCER_MAX_REQUEST_BYTES)
    await producer.start()
    try:
        futures = [await producer.send(topics.EVENTS, key=key, value=value) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000)
    args = parser.parse_args()
    values = flood(args.events)
    settings = Settings()
    peak, stop = [0.0], threading.Event()
    with tempfile.TemporaryDirectory(prefix="chatlens-flood-bench-") as tmp:
        broker, worker = broker_and_worker(Path(tmp))

        def sample() -> None:
            while not stop.wait(0.2):
                peak[0] = max(peak[0], rss_mib(worker.proc.pid)[0])
        try:
            ensure_topics(broker.bootstrap, partitions=4)
            worker.start()
            idle = rss_mib(worker.proc.pid)[0]
            threading.Thread(target=sample, daemon=True).start()
            marks = markers("kafka", "flood")
            started = time.perf_counter()
            for start in range(0, len(values), 250):
                asyncio.run(produce(broker.bootstrap, values[start:start + 250]))
            asyncio.run(produce(broker.bootstrap, [keyed(m) for m in marks]))
            wait_markers(worker, "kafka", marks)
            seconds = time.perf_counter() - started
            stored = worker.sql("SELECT count() FROM events FINAL WHERE bot_id = 'kafka' "
                                "AND startsWith(event_id, 'flood-')")[0][0]
            stop.set()
            rss, high = rss_mib(worker.proc.pid)
        finally:
            stop.set()
            worker.stop()
            broker.stop()
    sizes = [len(value) for _, value in values]
    size = sum(sizes) / len(sizes)
    report([f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — worker memory under a flood of the largest events — "
            f"{machine()}", "",
            f"- {args.events:,} messages of {size / 1000:,.0f} KB each ({sum(sizes) / 2**30:.2f} GiB), "
            f"straight to Kafka as the events API writes them: {stored:,} stored in {seconds:,.0f} s "
            f"({args.events / seconds:,.1f} events/s); **worker RSS at most {max(peak[0], rss):,.0f} MiB** "
            f"(kernel peak {high:,.0f} MiB; {idle:,.0f} MiB before the flood, {rss:,.0f} MiB after); byte budgets "
            f"{settings.stream_buffer_mib} MiB (stream) / {settings.sink_batch_mib} MiB (sink)", ""])


if __name__ == "__main__":
    main()
