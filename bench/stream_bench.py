"""`make bench`: the stream under realistic traffic, end to end, against the work it exists for.

One broker and one `chatlens worker` (embedded chDB) on this machine. From one run:
- end to end through the bulk events API (NDJSON, 1,000 events a request) until ClickHouse holds every row;
  served by the worker itself, and by one `chatlens ingest` process beside it (the documented way to take the
  API and the webhooks off the worker, whose one thread of Python the stream then has to itself);
- the same traffic size produced straight to the events topic;
- the ratio to a plain loop that decodes the same events and scores their inbound texts with
  pipeline.core.sentiment.score (the work the pipeline exists for);
- again after 4x as much history of the same users is stored (a write path whose cost grows with history
  shows here), against users with 1x history and users with none, timed back to back twice (one pair swings
  by ±20 % on a shared machine). Users with no history are not the baseline: the ids a run folds are
  forgotten into the id index (a table write per user and hour of event time) when a later run moves the
  user's watermark on, so a user's first run defers part of its cost to its second; the table writes per
  event of each show it;
- the CPU the worker and the broker spent per event in each timed run (all threads, from /proc: a cost that
  another process's load on a shared machine blurs less than wall-clock time does);
- the worker's peak RSS, and where its CPU goes (py-spy samples of the worker, grouped by stage).
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench.bench_sentiment import uncached
from bench.ingest_bench import ingest_processes
from bench.pipeline_bench import machine, report
from bench.traffic import START, Traffic, ndjson, traffic
from pipeline.core.sentiment import score
from pipeline.kafka import topics
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.broker import LocalBroker
from tests.support.ports import free_port, free_port_pair
from tests.support.worker import WorkerProcess

API_KEY = "bench-api-key-0123456789"
BOTS = ("api", "kafka", "history", "fresh", "ingest")
CHANGELOG = "chatlens-user-projection-changelog"  # the users' state table (app id "chatlens")
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
MARKER_POLL_SECONDS = 0.2  # each ask is an SQL query the worker serves: asked every 50 ms, they took 6 % of it
TICKS = os.sysconf("SC_CLK_TCK")
PARTITIONER = DefaultPartitioner()  # the producer's: murmur2 of the key, as the ingest producer places events

# Stage of a py-spy stack: the first rule (innermost frame outwards) whose text appears in a frame.
STAGES = [
    ("sentiment (VADER + emoji)", ("pipeline/core/sentiment.py", "vaderSentiment", "/emoji/")),
    ("JSON encode/decode", ("json/decoder.py", "json/encoder.py", "json/__init__.py", "orjson")),
    ("event validation (pydantic)", ("pydantic", "schemas/events.py")),
    ("fold (aggregate, sessionizer, projection)", ("pipeline/core/aggregate.py", "pipeline/core/sessionizer.py",
                                                   "pipeline/core/projection.py")),
    ("ClickHouse writes and reads", ("clickhouse_connect", "chdb", "consumers/clickhouse.py")),
    ("state table (RocksDB + changelog)", ("faust/tables", "faust/stores", "rocksdict")),
    ("batch fold and agent loop", ("pipeline/stream/",)),
    ("sink loop", ("consumers/sink.py",)),
    ("Kafka client (aiokafka)", ("aiokafka",)),
    # uvloop runs in C: a sample in its own machinery ends in the Python frame that started the loop
    ("event loop (uvloop, asyncio)", ("asyncio/", "execute_from_commandline")),
    ("Faust streams and transport", ("faust/", "mode/")),
    ("HTTP (uvicorn, starlette, fastapi)", ("uvicorn", "starlette", "fastapi", "h11", "httptools")),
]


def bots_toml() -> str:
    return "".join(f'[bots.{bot}]\napi_key = "{API_KEY}"\n' for bot in BOTS)


def broker_and_worker(tmp: Path) -> tuple[LocalBroker, WorkerProcess]:
    """A started broker and a worker (not started yet) serving the bench's bots, all under `tmp`."""
    broker = LocalBroker(tmp / "kafka", port=free_port_pair())
    broker.start()
    (tmp / "bots.toml").write_text(bots_toml())
    worker = WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_DATA_DIR": str(tmp / "data"),
                            "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"), "CHATLENS_HTTP_PORT": str(free_port()),
                            "CHATLENS_ADMIN_KEY": "bench", "CHATLENS_LOG_LEVEL": "warning"}, tmp / "worker.log")
    return broker, worker


def done(worker: WorkerProcess, bot: str, expected: Traffic, stored: Traffic | None = None) -> bool:
    """ClickHouse holds every message row and every user's messages_sent (of `stored` too, if given)."""
    messages = expected.messages + (stored.messages if stored else 0)
    inbound = expected.inbound + (stored.inbound if stored else 0)
    return worker.sql("SELECT (SELECT count() FROM messages FINAL WHERE bot_id = {b:String}), "
                      "(SELECT sum(messages_sent) FROM users FINAL WHERE bot_id = {b:String})", b=bot) \
        == [[messages, inbound]]


def wait(worker: WorkerProcess, bot: str, expected: Traffic, stored: Traffic | None = None) -> None:
    while not done(worker, bot, expected, stored):
        time.sleep(0.25)


def markers(bot: str, run: str, partitions: int = 4) -> list[dict]:
    """One profile update per partition, sent after a run's events: once the store holds all of them, it holds
    everything before them (each partition is processed in order). Asking for them reads a few keys, so the
    wait costs the worker the same however much is stored; the full check follows, untimed."""
    chosen: dict[int, str] = {}
    for n in range(10_000):
        user = f"web:marker-{run}-{n}"
        chosen.setdefault(PARTITIONER(f"{bot}:{user}".encode(), list(range(partitions)), list(range(partitions))),
                          user)
        if len(chosen) == partitions:
            break
    at = (START + timedelta(days=200)).isoformat()  # after every run's events (the last begin on day 122 + 60)
    return [{"event_id": f"{user}-mark", "bot_id": bot, "user_id": user, "kind": "profile_update", "channel": "web",
             "occurred_at": at, "profile": {"name": "marker"}} for user in chosen.values()]


def through_ingest(broker: LocalBroker, worker: WorkerProcess, tmp: Path, bot: str, run_: Traffic) -> float:
    """Seconds until ClickHouse holds `run_` posted to a `chatlens ingest` process (started, then stopped)."""
    ingest, marks = ingest_processes(broker, tmp, free_port(), 1), markers(bot, "ingest")
    try:
        return timed(lambda: (asyncio.run(post_all(ingest.url, bot, run_.events)),
                              asyncio.run(post_all(ingest.url, bot, marks)), wait_markers(worker, bot, marks)))
    finally:
        ingest.stop()


def wait_markers(worker: WorkerProcess, bot: str, marks: list[dict]) -> None:
    users = [m["user_id"] for m in marks]
    while worker.sql("SELECT count() FROM users WHERE bot_id = {b:String} AND user_id IN {u:Array(String)}",
                     b=bot, u=users) != [[len(users)]]:
        time.sleep(MARKER_POLL_SECONDS)


async def post_all(url: str, bot: str, events: list[dict], concurrency: int = 4) -> None:
    """The bulk events API, 1,000 events a request, a few requests in flight (as a busy integration would)."""
    requests = [events[i:i + 1000] for i in range(0, len(events), 1000)]
    async with httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        async def send(batch: list[dict]) -> None:
            while (await client.post(f"/v1/bots/{bot}/events", content=ndjson(batch))).status_code != 202:
                await asyncio.sleep(0.5)
        queue = iter(requests)

        async def lane() -> None:
            for batch in queue:
                await send(batch)
        await asyncio.gather(*(lane() for _ in range(concurrency)))


async def produce(bootstrap: str, events: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=262144)
    await producer.start()
    try:
        received = datetime.now(UTC).isoformat()
        futures = [await producer.send(topics.EVENTS, key=f"{e['bot_id']}:{e['user_id']}".encode(),
                                       value=json.dumps({**e, "received_at": received}).encode()) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def plain_loop(events: list[dict], scorer=score) -> float:
    """Events/s of decoding the same events and scoring each inbound text: the work itself."""
    encoded = [json.dumps(e).encode() for e in events]
    started = time.perf_counter()
    for data in encoded:
        event = json.loads(data)
        if event.get("direction") == "inbound":
            scorer(event["text"])
    return len(encoded) / (time.perf_counter() - started)


def faust_floor(bootstrap: str, topic: str, count: int, tmp: Path) -> tuple[float, float]:
    """(events/s, CPU µs per event) of faust-streaming alone handing a no-op agent `topic` (bench/faust_floor.py)."""
    out = tmp / "floor.txt"
    subprocess.run([sys.executable, "-m", "bench.faust_floor", bootstrap, topic, str(count), str(out)],
                   check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rate, cpu_us = out.read_text().split()
    return float(rate), float(cpu_us)


def timed_run(broker: LocalBroker, worker: WorkerProcess, bot: str, run: Traffic, name: str) -> float:
    """Seconds from producing a run's events straight to Kafka until the store holds its markers."""
    marks = markers(bot, name)
    return timed(lambda: (asyncio.run(produce(broker.bootstrap, run.events + marks)), wait_markers(worker, bot, marks)))


async def table_writes(bootstrap: str, partitions: int = 4) -> int:
    """Records on the state table's changelog so far: one per state or index entry written."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets([TopicPartition(CHANGELOG, p) for p in range(partitions)])).values())
    finally:
        await consumer.stop()


def combined(runs: list[Traffic]) -> Traffic:
    """The totals of several runs of one bot (for the full check after them)."""
    return Traffic([], sum(r.inbound for r in runs), sum(r.messages for r in runs), sum(r.users for r in runs))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def cpu_seconds(pid: int | None) -> float:
    """CPU time a process has used so far, all its threads (chDB's and RocksDB's native ones too)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class CpuMeter:
    """Per run, the CPU the worker and the broker spent: a cost per event that wall-clock time on a shared
    machine blurs (another process's load slows a run without making its events dearer)."""

    def __init__(self, worker: WorkerProcess, broker: LocalBroker):
        self.pids = {"worker": worker.proc.pid, "broker": broker.pid()}
        self.spent: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.events: collections.Counter[str] = collections.Counter()

    def measure(self, name: str, events: int, action) -> float:
        before = {who: cpu_seconds(pid) for who, pid in self.pids.items()}
        seconds = timed(action)
        for who, pid in self.pids.items():
            self.spent[name][who] += cpu_seconds(pid) - before[who]
        self.events[name] += events
        return seconds

    def per_event_us(self) -> dict[str, dict[str, float]]:
        return {name: {who: 1e6 * cpu / self.events[name] for who, cpu in by.items()}
                for name, by in self.spent.items()}


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def stages(raw: Path) -> list[tuple[str, float]]:
    """Share of the worker's samples per stage, from py-spy's raw (collapsed stacks) output."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")[::-1]   # innermost first
        stage = next((name for frame in frames for name, needles in STAGES if any(n in frame for n in needles)),
                     "other")
        counts[stage] += int(count)
    total = sum(counts.values()) or 1
    return [(name, count / total) for name, count in counts.most_common()]


def run(events: int, users: int, busiest: int, history: int) -> dict:
    api = traffic("api", users, events, seed=1, busiest=busiest)
    via_ingest = traffic("ingest", users, events, seed=10, busiest=busiest)
    kafka = traffic("kafka", users, events, seed=2, busiest=busiest)
    stored = traffic("history", users, events * history, seed=3, busiest=busiest * history)
    later = {bot: [traffic(bot, users, events, seed=seed + n, busiest=busiest, start=START + timedelta(days=61 * (n + 1)),
                           ids=f"later{n}-") for n in range(2)] for bot, seed in (("history", 4), ("kafka", 8))}
    later["fresh"] = [traffic("fresh", users, events, seed=6 + n, busiest=busiest, prefix=f"f{n}-") for n in range(2)]
    with tempfile.TemporaryDirectory(prefix="chatlens-stream-bench-") as tmp:
        broker, worker = broker_and_worker(Path(tmp))
        try:
            ensure_topics(broker.bootstrap, partitions=4)
            worker.start()
            cpu = CpuMeter(worker, broker)
            api_s = timed(lambda: (asyncio.run(post_all(worker.url, "api", api.events)),
                                   asyncio.run(post_all(worker.url, "api", markers("api", "api"))),
                                   wait_markers(worker, "api", markers("api", "api"))))
            wait(worker, "api", api)
            ingest_s = through_ingest(broker, worker, Path(tmp), "ingest", via_ingest)
            wait(worker, "ingest", via_ingest)
            raw = Path(tmp) / "profile.txt"
            spy = subprocess.Popen([PY_SPY, "record", "-p", str(worker.proc.pid), "-f", "raw", "-o", str(raw),
                                    "-r", "50", "--nonblocking", "-d", "3600"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            kafka_s = cpu.measure("first", len(kafka.events), lambda: (
                asyncio.run(produce(broker.bootstrap, kafka.events + markers("kafka", "k"))),
                wait_markers(worker, "kafka", markers("kafka", "k"))))
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
            wait(worker, "kafka", kafka)
            asyncio.run(produce(broker.bootstrap, stored.events))
            wait(worker, "history", stored)
            seconds: dict[str, float] = collections.Counter()
            writes: dict[str, int] = collections.Counter()
            for n in range(2):
                for bot in later:  # 4x history, 1x (the Kafka run's users), none
                    before = asyncio.run(table_writes(broker.bootstrap))
                    run_ = later[bot][n]
                    seconds[bot] += cpu.measure(bot, len(run_.events),
                                                lambda: timed_run(broker, worker, bot, run_, f"h{n}"))
                    time.sleep(1)  # the table is written just after the rows the markers are read from
                    writes[bot] += asyncio.run(table_writes(broker.bootstrap)) - before
            wait(worker, "history", combined([stored, *later["history"]]))
            wait(worker, "kafka", combined([kafka, *later["kafka"]]))
            wait(worker, "fresh", combined(later["fresh"]))
            rss, peak = rss_mib(worker.proc.pid)
            breakdown = stages(raw) if raw.exists() else []
        finally:
            worker.stop()
        try:
            floor, floor_us = faust_floor(broker.bootstrap, topics.EVENTS, len(api.events) + len(kafka.events),
                                          Path(tmp))
        finally:
            broker.stop()
    plain_loop(api.events)   # the cache as warm as the worker's when the Kafka run began
    plain = plain_loop(kafka.events)
    plain_uncached = plain_loop(kafka.events, uncached)
    return {"events": len(api.events), "users": users, "busiest": busiest, "history": len(stored.events),
            "api": len(api.events) / api_s, "ingest": len(via_ingest.events) / ingest_s,
            "kafka": len(kafka.events) / kafka_s,
            "after_history": {bot: sum(len(r.events) for r in runs) / seconds[bot] for bot, runs in later.items()},
            "writes": {bot: writes[bot] / sum(len(r.events) for r in runs) for bot, runs in later.items()},
            "cpu_us": cpu.per_event_us(),
            "plain": plain, "plain_uncached": plain_uncached,
            "floor": floor, "floor_us": floor_us, "rss": rss, "peak": peak,
            "stages": breakdown, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000, help="events per timed run")
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--busiest", type=int, default=5_000, help="events of the busiest user")
    parser.add_argument("--history", type=int, default=4, help="history stored before the last run, x events")
    args = parser.parse_args()
    r = run(args.events, args.users, args.busiest, args.history)
    h4, h1, h0 = (r["after_history"][bot] for bot in ("history", "kafka", "fresh"))
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — stream, realistic traffic — {machine()}", "",
             f"- traffic: {r['events']:,} events per run of {r['users']:,} users (Zipf-like, the busiest "
             f"{r['busiest']:,}); VADER's 4,200 evaluation tweets and short chat replies; 55 % inbound messages, "
             "25 % bot replies, clicks, profile updates, tags and attributes; pauses of seconds to days",
             f"- end to end through the bulk events API until ClickHouse holds every row: **{r['api']:,.0f} events/s**",
             f"- the same API served by one `chatlens ingest` process beside the worker: **{r['ingest']:,.0f} events/s**",
             f"- the same, produced straight to Kafka: **{r['kafka']:,.0f} events/s**",
             f"- plain loop (decode + score inbound texts) on the same events: {r['plain']:,.0f} events/s; "
             f"**ratio {r['kafka'] / r['plain']:.3f}** (Kafka) / {r['api'] / r['plain']:.3f} (API); "
             f"without the sentiment cache {r['plain_uncached']:,.0f} events/s (ratio "
             f"{r['kafka'] / r['plain_uncached']:.3f})",
             f"- faust-streaming alone, a no-op agent on the same topic with the worker's consumer: "
             f"{r['floor']:,.0f} events/s (the stream at {r['kafka'] / r['floor']:.2f} of it), "
             f"{r['floor_us']:,.0f} µs of CPU per event (the worker: {r['cpu_us']['first']['worker']:,.0f})",
             f"- with {r['history']:,} events of the same users already stored: **{h4:,.0f} events/s** "
             f"({h4 / r['kafka']:.2f} of the first run); back to back, users with 1x history {h1:,.0f} events/s "
             f"(**4x against 1x: {h4 / h1:.2f}**), users with none {h0:,.0f} ({h4 / h0:.2f}); table writes per event "
             f"{r['writes']['history']:.2f} / {r['writes']['kafka']:.2f} / {r['writes']['fresh']:.2f} (a first run "
             "forgets fewer ids into the index: the rest are forgotten in the user's next run)",
             "- CPU per event, worker / broker (a cost that another process's load on a shared machine does not "
             "blur): first run " + ", ".join(f"{label} {us['worker']:,.0f} / {us['broker']:,.0f} µs" for label, us in (
                 ("", r["cpu_us"]["first"]), ("4x history", r["cpu_us"]["history"]), ("1x", r["cpu_us"]["kafka"]),
                 ("none", r["cpu_us"]["fresh"]))).lstrip()
             + f"; **4x history against the first run: "
               f"{r['cpu_us']['first']['worker'] / r['cpu_us']['history']['worker']:.2f}** (worker, first / 4x)",
             f"- worker RSS at the end {r['rss']:,.0f} MiB, peak {r['peak']:,.0f} MiB",
             "- worker CPU by stage (py-spy, straight-to-Kafka run): "
             + "; ".join(f"{name} {share:.0%}" for name, share in r["stages"] if share >= 0.01),
             f"- 1-minute load average at the end: {r['load']:.1f} (2 cores; the broker shares them)", ""]
    report(lines)


if __name__ == "__main__":
    main()
