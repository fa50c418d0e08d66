"""`chatlens kafka start|stop|status`: the local single-node broker."""

from __future__ import annotations

import sys

import click

from pipeline.cli.common import console, current_settings, local_broker, local_broker_error


@click.group()
def kafka() -> None:
    """Manage the local single-node Kafka broker (KRaft) run from Maven Central jars."""


@kafka.command("start")
@click.option("--timeout", default=90.0, show_default=True, help="seconds to wait until the broker answers")
def kafka_start(timeout: float) -> None:
    """Fetch the jars (once, cached), format storage (once) and start the broker; waits until it answers."""
    broker = local_broker(current_settings())
    try:
        broker.start(timeout)
    except local_broker_error() as e:
        raise click.ClickException(str(e)) from None
    console.print(f"Kafka running on {broker.bootstrap} (pid {broker.pid()}, log {broker.log_file})")


@kafka.command("stop")
def kafka_stop() -> None:
    """Stop the local broker cleanly (SIGTERM, then SIGKILL after 30 s)."""
    broker = local_broker(current_settings())
    console.print("stopped" if broker.stop() else "not running")


@kafka.command("status")
def kafka_status() -> None:
    """Say whether the local broker runs and answers; exit 1 when it does not."""
    broker = local_broker(current_settings())
    pid, ready = broker.pid(), broker.is_ready()
    console.print(f"Kafka on {broker.bootstrap}: {'ready' if ready else 'not answering'}"
                  + (f" (pid {pid})" if pid else " (not started by chatlens)"))
    sys.exit(0 if ready else 1)
