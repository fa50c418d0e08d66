"""`make bench`: webhooks under load into `chatlens ingest`, with 1 and 2 processes on one port.

One broker, one worker and the ingest processes on this machine. Per process count:
- throughput: wrk (2 threads, 32 connections, bench/ingest.lua) POSTs pre-signed webhooks of every channel
  (the demo's story: Telegram, Messenger, LiveChat, Slack, web; unique ids, each sent once) for `--seconds`:
  requests/s, p50/p99 latency, non-2xx answers. The worker is paused meanwhile (SIGSTOP), as if on a host of
  its own: the figure is the ingest tier's;
- nothing acknowledged lost: once the worker caught up, every event of every request wrk certainly had
  answered (all but the last one per connection) is in ClickHouse, and nothing that was not sent;
- freshness: while wrk paces the rest of the story at about `--paced` requests/s (a rate the stream sustains;
  a fixed schedule over 16 connections), from 5 s into it a marked Telegram message from a new user every 0.25 s;
  event -> visible is the time from its 2xx to the Users API knowing the user (p50/p95), one search for all
  markers still unseen every 0.2 s (the figures are up to that much late). The markers' client is the only Python load beside the server.
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.pipeline_bench import machine, report
from pipeline.core.bots import load_bots
from pipeline.core.ingest import read_request, webhook_source
from pipeline.core.signatures import signed_request
from pipeline.demo.traffic import DemoRequest, plan
from pipeline.kafka.broker import LocalBroker
from tests.support.ports import free_port, free_port_pair
from tests.support.worker import WorkerProcess

EXAMPLE = Path(__file__).resolve().parent.parent / "bots.example.toml"
LUA = Path(__file__).resolve().with_name("ingest.lua")
PACED_LUA = LUA.with_name("ingest_paced.lua")
THREADS, CONNECTIONS = 2, 32
PACED_CONNECTIONS = 16
WARM_UP = 5  # seconds of paced load before the first marker
POLL_SECONDS = 0.2  # the markers' search of the Users API: tighter polling loads the worker it measures
RUNS = ("one", "two")  # a bot per run (the demo bot's secrets): runs never share a user


def bots_toml() -> str:
    demo = EXAMPLE.read_text().split("[bots.acme]")[0]
    return "".join(demo.replace("[bots.demo", f"[bots.{run}") for run in RUNS)


def requests_file(requests: list[DemoRequest], path: Path) -> None:
    with path.open("wb") as out:
        for r in requests:
            assert b"\n" not in r.body and b"\1" not in r.body, "bodies are compact JSON or forms"
            headers = "\2".join(f"{k}: {v}" for k, v in r.headers.items())
            out.write(r.path.encode() + b"\1" + headers.encode() + b"\1" + r.body + b"\n")


def event_ids(request: DemoRequest) -> list[str]:
    taken = read_request(webhook_source(request.channel), request.body, request.headers.get("Content-Type", ""),
                         request.bot_id, datetime.now(UTC))
    return [e.event_id for e in taken.events]


def wrk(url: str, file: Path, seconds: int) -> dict:
    out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(LUA),
                          url, "--", str(file), str(THREADS)], capture_output=True, text=True, check=True).stdout
    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)$", out, re.M)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors.group(1) if errors else "none",
            "sent": {int(t): int(n) for t, n in re.findall(r"^SENT (\d+) (\d+)$", out, re.M)}, "output": out}


def sent_and_certain(requests: list[DemoRequest], sent: dict[int, int]) -> tuple[set[str], set[str]]:
    """Event ids of every request sent, and of those certainly answered (all but each connection's last).

    wrk calls thread 0's request() once before the load to verify the script, and never sends that one."""
    every, certain = set(), set()
    per_thread = CONNECTIONS // THREADS
    for thread, count in sent.items():
        mine = requests[thread::THREADS][:count]
        for i, request in enumerate(mine):
            if thread == 0 and i == 0:
                continue
            ids = event_ids(request)
            every.update(ids)
            if i < count - per_thread:
                certain.update(ids)
    return every, certain


def stored_ids(worker: WorkerProcess, bot: str) -> set[str]:
    rows = worker.sql("SELECT event_id FROM events FINAL WHERE bot_id = {b:String}", b=bot)
    return {r[0] for r in rows}


def caught_up(worker: WorkerProcess, timeout: float = 900) -> None:
    """Lag 0 in both groups, as /health reports it; waits out one watch interval (5 s) first, so what it
    reads was observed after the load, not before it."""
    time.sleep(6)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stream = httpx.get(f"{worker.url}/health", timeout=30).json().get("stream", {})
        if stream.get("groups") and all(g["lag"] == 0 for g in stream["groups"].values()):
            return
        time.sleep(1)
    raise RuntimeError("the worker did not catch up")


def paced_load(url: str, file: Path, rate: float, seconds: float) -> subprocess.Popen:
    """wrk sending `rate` requests/s on a fixed schedule (bench/ingest_paced.lua), over PACED_CONNECTIONS."""
    return subprocess.Popen(["wrk", "-t1", f"-c{PACED_CONNECTIONS}", f"-d{seconds}s", "-s", str(PACED_LUA), url,
                             "--", str(file), "1", str(rate)], stdout=subprocess.PIPE, text=True)


async def marked(url: str, worker: WorkerProcess, bot: str, seconds: float) -> list[float]:
    """A marked message from a new user every 0.25 s; seconds from each marker's 2xx to the Users API knowing
    the user. One reader asks for every marker still unseen in one search every POLL_SECONDS, so the reads load
    the worker the same however late the markers are (a reader per marker made a late stream later still)."""
    secrets = load_bots_file(worker).get(bot).channel_secrets("telegram")
    latencies: list[float] = []
    unseen: dict[str, float] = {}  # user id -> monotonic time of its 2xx
    sending = True
    async with httpx.AsyncClient(base_url=url, timeout=30) as client, \
            httpx.AsyncClient(base_url=worker.url, timeout=30) as reader:
        async def mark(n: int) -> None:
            user = 9_000_000 + n
            update = {"update_id": user, "message": {"message_id": 1, "date": int(time.time()), "text": "marker",
                                                     "chat": {"id": user, "type": "private"},
                                                     "from": {"id": user, "is_bot": False, "first_name": "Mark"}}}
            body, headers = signed_request("telegram", update, secrets, now=datetime.now(UTC))
            answer = await client.post(f"/webhooks/telegram/{bot}", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            unseen[f"telegram:{user}"] = time.monotonic()

        async def read() -> None:
            while sending or unseen:
                await asyncio.sleep(POLL_SECONDS)
                if not unseen:
                    continue
                ids = list(unseen)
                answer = await reader.post(f"/v1/bots/{bot}/users/search", headers={"Authorization": f"Bearer {API_KEY}"},
                                           json={"filter": {"match": "all", "filters": [
                                                     {"column": "user_id", "function": "in_list", "value": ids}]},
                                                 "columns": ["user_id"], "limit": len(ids)})
                answer.raise_for_status()
                seen = time.monotonic()
                for row in answer.json()["users"]:
                    latencies.append(seen - unseen.pop(row["user_id"]))

        reading = asyncio.ensure_future(read())
        marks, began = [], time.monotonic()
        while time.monotonic() - began < seconds:
            marks.append(asyncio.ensure_future(mark(len(marks))))
            await asyncio.sleep(0.25)
        await asyncio.gather(*marks)
        sending = False
        await reading
    return latencies


def freshness(url: str, worker: WorkerProcess, bot: str, file: Path, rate: float, seconds: int) -> dict:
    """Markers sent while wrk paces the rest of the story at `rate`, from WARM_UP seconds into it (the stream
    has just caught up with the blast); the rate wrk reached is reported."""
    load = paced_load(url, file, rate, WARM_UP + seconds + 1)
    try:
        time.sleep(WARM_UP)
        latencies = sorted(asyncio.run(marked(url, worker, bot, seconds)))
    finally:
        out = load.communicate(timeout=60)[0]
    return {"paced_rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "visible_p50": statistics.median(latencies), "visible_p95": latencies[int(len(latencies) * 0.95) - 1],
            "marks": len(latencies)}


API_KEY = "demo-api-key-change-me"


def load_bots_file(worker: WorkerProcess):
    return load_bots(Path(worker.env["CHATLENS_BOTS_FILE"]))


def ingest_processes(broker: LocalBroker, tmp: Path, port: int, processes: int) -> WorkerProcess:
    process = WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"),
                             "CHATLENS_DATA_DIR": str(tmp / "data"), "CHATLENS_INGEST_PORT": str(port),
                             "CHATLENS_LOG_LEVEL": "warning"}, tmp / f"ingest-{processes}.log",
                            command=("ingest", "--processes", str(processes)))
    return process.start()


def run(seconds: int, paced_rate: float, users: int) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory(prefix="chatlens-ingest-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        broker = LocalBroker(tmp / "kafka", port=free_port_pair())
        broker.start()
        (tmp / "bots.toml").write_text(bots_toml())
        bots = load_bots(tmp / "bots.toml")
        worker = WorkerProcess({"KAFKA_BOOTSTRAP": broker.bootstrap, "CHATLENS_DATA_DIR": str(tmp / "data"),
                                "CHATLENS_BOTS_FILE": str(tmp / "bots.toml"), "CHATLENS_HTTP_PORT": str(free_port()),
                                "CHATLENS_ADMIN_KEY": "bench", "CHATLENS_LOG_LEVEL": "warning"}, tmp / "worker.log")
        worker.admin_key = "bench"
        try:
            worker.start()
            for processes, bot in zip((1, 2), RUNS):
                now = datetime.now(UTC)
                story = plan(bots[bot], users=users, seed=processes, now=now)
                load, rest = story[: len(story) * 3 // 4], story[len(story) * 3 // 4:]
                requests_file(load, tmp / "requests")
                port = free_port()
                ingest = ingest_processes(broker, tmp, port, processes)
                try:
                    os.kill(worker.proc.pid, signal.SIGSTOP)
                    try:
                        blast = wrk(f"http://127.0.0.1:{port}", tmp / "requests", seconds)
                    finally:
                        os.kill(worker.proc.pid, signal.SIGCONT)
                    assert sum(blast["sent"].values()) <= len(load), "more requests than prepared: raise --users"
                    every, certain = sent_and_certain(load, blast["sent"])
                    caught_up(worker)
                    stored = stored_ids(worker, bot)
                    lost, unsent = len(certain - stored), len(stored - every)
                    requests_file(rest, tmp / "paced")
                    fresh = freshness(f"http://127.0.0.1:{port}", worker, bot, tmp / "paced", paced_rate, seconds)
                finally:
                    ingest.stop()
                results.append({**blast, **fresh, "processes": processes, "certain": len(certain), "lost": lost,
                                "unsent": unsent, "prepared": len(load)})
        finally:
            worker.stop()
            broker.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15, help="length of each load phase")
    parser.add_argument("--paced", type=float, default=300, help="requests/s of the freshness phase")
    parser.add_argument("--users", type=int, default=5_000, help="demo users per run (their story is the load)")
    args = parser.parse_args()
    results = run(args.seconds, args.paced, args.users)
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — ingest, webhooks under load — {machine()}", "",
             f"- wrk {THREADS} threads, {CONNECTIONS} connections, {args.seconds} s; pre-signed webhooks of all five "
             "channels (the demo story), unique ids, acks=all; broker on the same cores, worker paused meanwhile"]
    for r in results:
        lines.append(f"- {r['processes']} ingest process{'es' if r['processes'] > 1 else ''}: **{r['rps']:,.0f} req/s**, "
                     f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, non-2xx {r['non_2xx']}, socket errors "
                     f"{r['socket_errors']}; of {r['certain']:,} events certainly acknowledged {r['lost']} missing in "
                     f"ClickHouse ({r['unsent']} stored that were never sent); event -> visible in the Users API while "
                     f"wrk paced {r['paced_rps']:,.0f} req/s: p50 {r['visible_p50']:.2f} s, p95 {r['visible_p95']:.2f} s "
                     f"({r['marks']} markers)")
    lines.append("")
    report(lines)


if __name__ == "__main__":
    main()
