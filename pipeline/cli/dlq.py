"""`chatlens dlq list|show|replay`: the dead-letter topic."""

from __future__ import annotations

import asyncio
import json
import sys

import click
from rich.table import Table

from pipeline.cli.common import console, current_settings


@click.group()
def dlq() -> None:
    """Inspect and replay the dead-letter topic (authenticated requests that did not parse)."""


def _letters(limit: int):
    from pipeline.kafka.dead_letters import read_letters  # lazy: aiokafka takes 0.5 s
    settings = current_settings()
    try:
        return asyncio.run(read_letters(settings.bootstrap, limit))
    except Exception as e:  # noqa: BLE001 - Kafka's message is what the operator needs
        raise click.ClickException(f"cannot read the dead-letter topic at {settings.bootstrap}: {e}") from None


@dlq.command("list")
@click.option("--limit", default=100, show_default=True, help="at most this many letters")
def dlq_list(limit: int) -> None:
    """One line per dead letter: id, when, where from, which bot, why."""
    letters = _letters(limit)
    table = Table("id", "received_at", "source", "bot", "reason")
    for letter in letters:
        r = letter.record
        table.add_row(letter.id, r.get("received_at", ""), r.get("source", ""), str(r.get("bot_id")),
                      "; ".join(r.get("reason", []))[:120])
    console.print(table if letters else "the dead-letter topic is empty")


@dlq.command("show")
@click.argument("letter_id")
def dlq_show(letter_id: str) -> None:
    """Print one letter in full (reason, headers, body) as JSON. LETTER_ID is partition:offset."""
    for letter in _letters(100_000):
        if letter.id == letter_id:
            record = dict(letter.record)
            click.echo(json.dumps({"id": letter.id, **record}, indent=2, ensure_ascii=False))
            return
    raise click.ClickException(f"no letter {letter_id} (see `chatlens dlq list`)")


@dlq.command("replay")
@click.argument("letter_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="replay every letter on the topic")
def dlq_replay(letter_ids: tuple[str, ...], replay_all: bool) -> None:
    """Parse letters again with today's code and publish the events of those that now parse.

    Replaying is idempotent: events keep their platform ids, so downstream counts them once.
    """
    from pipeline.kafka.dead_letters import REPLAY_ERRORS, reparse  # lazy: aiokafka takes 0.5 s
    from pipeline.kafka.publisher import KafkaPublisher
    if not letter_ids and not replay_all:
        raise click.UsageError("name letter ids (partition:offset) or pass --all")
    letters = [l for l in _letters(100_000) if replay_all or l.id in letter_ids]
    missing = set(letter_ids) - {l.id for l in letters}
    if missing:
        raise click.ClickException(f"no such letters: {', '.join(sorted(missing))}")
    ready, failed = [], 0
    for letter in letters:
        try:
            ready.append((letter, reparse(letter)))
        except REPLAY_ERRORS as e:
            failed += 1
            console.print(f"{letter.id}: still fails: {e}")
    settings = current_settings()

    async def publish() -> int:
        publisher = KafkaPublisher(settings.bootstrap, settings.ingest_timeout_seconds)
        await publisher.start()
        try:
            for _, events in ready:
                await publisher.publish(events)
        finally:
            await publisher.stop()
        return sum(len(events) for _, events in ready)

    published = asyncio.run(publish()) if ready else 0
    console.print(f"replayed {len(ready)} letter(s) as {published} event(s); {failed} still failing")
    if failed:
        sys.exit(1)
