"""`chatlens run` (the local broker and a supervised worker), `chatlens worker` (one worker) and
`chatlens ingest` (webhook processes beside the workers)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import click

from pipeline.cli.common import console, current_settings, local_broker, local_broker_error


@click.command()
def run() -> None:
    """Start everything on this machine: the local Kafka (unless KAFKA_BOOTSTRAP is set) and the worker.

    Ctrl-C stops the worker, then the broker this command started. A worker that crashed (exit code 1)
    is started again: it reads on from the committed offsets.
    """
    settings = current_settings()
    broker = local_broker(settings) if settings.uses_local_broker else None
    started_here = False
    if broker is not None:
        started_here = broker.pid() is None
        console.print(f"[bold]Kafka[/bold] local broker on {broker.bootstrap} (data in {broker.run_dir})")
        try:
            broker.start()
        except local_broker_error() as e:
            raise click.ClickException(str(e)) from None
    console.print(f"[bold]chatlens[/bold] http://{settings.http_host}:{settings.http_port}/health · "
                  f"API docs http://{settings.http_host}:{settings.http_port}/docs · "
                  f"ClickHouse {settings.clickhouse_dsn}")
    try:
        supervise_worker()
    finally:
        if broker is not None and started_here:
            console.print("stopping the local Kafka broker")
            broker.stop()


CHATLENS = [sys.executable, "-c", "import sys; from pipeline.cli.main import main; sys.argv[0] = 'chatlens'; main()"]
WORKER = [*CHATLENS, "worker"]


def supervise_worker() -> None:
    """Run `chatlens worker` until it stops by itself or by a signal; start it again after a crash."""
    from pipeline.stream.supervision import CRASHED  # lazy: the supervisor itself needs no Faust (0.8 s)
    delay = 1.0
    while True:
        began = time.monotonic()
        proc = subprocess.Popen(WORKER)
        stopping = []

        def forward(signum, _frame, proc=proc, stopping=stopping):
            stopping.append(signum)  # Ctrl-C reaches the worker from the terminal too; SIGTERM is passed on
            if signum == signal.SIGTERM:
                proc.terminate()

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if stopping or code != CRASHED:
            if code not in (0, CRASHED) and not stopping:
                raise click.ClickException(f"the worker exited with {code}")
            return
        delay = 1.0 if time.monotonic() - began > 60 else min(30.0, delay * 2)
        console.print(f"[red]the worker crashed[/red] (see its log above); starting it again in {delay:.0f}s")
        time.sleep(delay)


@click.command()
def worker() -> None:
    """Run one Faust worker with the HTTP app (Kafka must be reachable at KAFKA_BOOTSTRAP or the local port)."""
    from pipeline.app import run_worker  # lazy: Faust, aiokafka and chDB take 1.8 s; only the worker needs them
    run_worker(current_settings())


@click.command()
@click.option("--host", default=None, help="address to bind (default CHATLENS_HTTP_HOST)")
@click.option("--port", type=int, default=None, help="port the processes share (default CHATLENS_INGEST_PORT, 8081)")
@click.option("--processes", type=click.IntRange(1, 64), default=None,
              help="processes on this port (default CHATLENS_INGEST_PROCESSES, 1)")
@click.option("--no-topics", is_flag=True, hidden=True, help="do not create the topics (the parent process did)")
def ingest(host: str | None, port: int | None, processes: int | None, no_topics: bool) -> None:
    """Serve the channel webhooks, the events API and /health into Kafka: no stream, no store.

    Run any number beside the worker(s): several on one port on a host (they share it with SO_REUSEPORT),
    and across hosts behind a load balancer. An event is answered 2xx only once Kafka has it (acks=all),
    else 503 with Retry-After. /health also says how far behind the stream is.

    \b
    Example: KAFKA_BOOTSTRAP=127.0.0.1:19092 chatlens ingest --port 8081 --processes 2
    """
    from pipeline.ingest_server import run_ingest  # lazy: uvicorn and aiokafka load only here
    settings = current_settings()
    run_ingest(settings, host or settings.http_host, port or settings.ingest_port,
               processes or settings.ingest_processes, topics=not no_topics,
               one_process=[*CHATLENS, "ingest", "--processes", "1"])
