"""`chatlens ingest`: channel webhooks and the events API into Kafka, in processes of their own.

No Faust and no store in them, so a burst of webhooks never waits on the stream or ClickHouse. Each
process binds its port with SO_REUSEPORT: several on one host share it (the kernel spreads the
connections), and behind a load balancer any number run across hosts. uvicorn with httptools and
uvloop; no access log line unless CHATLENS_ACCESS_LOG is set.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import time
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from pipeline.core.bots import load_bots
from pipeline.core.progress import ProgressMonitor
from pipeline.http.app import SERVER_OPTIONS, create_ingest_api
from pipeline.kafka import group_lag
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import KafkaPublisher
from pipeline.services import Services
from pipeline.settings import Settings

log = logging.getLogger(__name__)


def build_ingest_api(settings: Settings) -> FastAPI:
    services = Services(settings=settings, bots=load_bots(settings.bots_file), store=None, role="ingest",
                        publisher=KafkaPublisher(settings.bootstrap, settings.ingest_timeout_seconds))
    services.progress = ProgressMonitor(settings.stall_seconds)

    async def watch_progress() -> None:
        await group_lag.watch(settings.bootstrap, group_lag.stream_groups(settings.app_id), services.progress)

    return create_ingest_api(services, background=watch_progress)


def shared_socket(host: str, port: int) -> socket.socket:
    """A listening address other processes may bind too (SO_REUSEPORT)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve(settings: Settings, host: str, port: int) -> None:
    """One ingest process, until SIGTERM or Ctrl-C (uvicorn finishes the requests in flight)."""
    config = uvicorn.Config(build_ingest_api(settings), loop="uvloop", lifespan="on", access_log=settings.access_log,
                            log_level=settings.log_level, **SERVER_OPTIONS,
                            timeout_graceful_shutdown=settings.shutdown_seconds)
    uvicorn.Server(config).run(sockets=[shared_socket(host, port)])


def run_ingest(settings: Settings, host: str, port: int, processes: int, *, topics: bool = True,
               one_process: Sequence[str] = ()) -> None:
    """`processes` ingest processes on one port, each started as `one_process` (the CLI's command for one);
    a process that dies is started again."""
    if topics:  # before the first request: a burst may come before any worker created them
        ensure_topics(settings.bootstrap, settings.partitions, settings.replication_factor)
    if processes == 1:
        serve(settings, host, port)
        return
    command = [*one_process, "--host", host, "--port", str(port), "--no-topics"]
    children = [subprocess.Popen(command) for _ in range(processes)]
    stopping: list[int] = []

    def stop(signum, _frame) -> None:
        stopping.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    while not stopping:
        for i, child in enumerate(children):
            if child.poll() is not None and not stopping:
                log.warning("ingest process %d exited with %s; starting it again", child.pid, child.returncode)
                children[i] = subprocess.Popen(command)
        time.sleep(0.5)
    for child in children:
        child.wait()
