"""`chatlens demo`: realistic signed webhooks of every channel, so a new install has something to show."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import click
from rich.progress import Progress
from rich.table import Table

from pipeline.cli.common import console, load_bot


@click.command()
@click.option("--bot", "bot_id", default="demo", show_default=True, help="bot of CHATLENS_BOTS_FILE to send as")
@click.option("--users", default=200, show_default=True, type=click.IntRange(1, 100_000), help="how many chat users")
@click.option("--seed", default=1, show_default=True, help="same seed, same traffic")
@click.option("--url", default=None, help="chatlens base URL [default: http://CHATLENS_HTTP_HOST:CHATLENS_HTTP_PORT]")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
def demo(bot_id: str, users: int, seed: int, url: str | None, concurrency: int) -> None:
    """Send realistic signed webhook traffic for every channel the bot has secrets for.

    Many users over the last 14 days, sessions with pauses, emoji, bot replies, URL and postback
    clicks and the profile data each platform really sends; so a new install has something to show.
    """
    from pipeline.demo.traffic import plan, send  # lazy: the demo's payload builders take 0.5 s
    settings, bot = load_bot(bot_id)
    requests = plan(bot, users=users, seed=seed, now=datetime.now(UTC))
    if not requests:
        raise click.ClickException(f"bot {bot_id!r} has no channel secrets: add [bots.{bot_id}.<channel>] tables")
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    with Progress(console=console) as bar:
        task = bar.add_task(f"sending {len(requests)} webhooks", total=len(requests))
        report = asyncio.run(send(requests, base, concurrency=concurrency,
                                  on_progress=lambda done, total: bar.update(task, completed=done)))
    table = Table("channel", "requests", "answers")
    for channel, statuses in sorted(report.by_channel.items()):
        table.add_row(channel, str(sum(statuses.values())),
                      ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(statuses.items())))
    console.print(table)
    console.print(f"{report.accepted_events} of {report.expected_events} events accepted"
                  + (f", {report.retries} retries" if report.retries else ""))
    for error in report.errors[:5]:
        console.print(f"[red]{error}[/red]")
    if not report.ok:
        sys.exit(1)
