"""Faust agents: short loops that call the pure code and the sinks."""

from __future__ import annotations

import json
import logging

import faust

from consumers.sink import RetryingWriter, SinkStatus
from pipeline.publisher import dead_letter
from pipeline.services import Services
from schemas.events import Event, InvalidEvent, parse_event

log = logging.getLogger(__name__)


def decode(values: list[bytes]) -> tuple[list[Event], list[dict]]:
    """Events, and dead letters for records on the topic that are not events (never dropped)."""
    events, letters = [], []
    for value in values:
        try:
            events.append(parse_event(value))
        except InvalidEvent as e:
            letters.append(dead_letter("events-topic", None, e.problems, value))
    return events, letters


def register(app: faust.App, events_topic: faust.TopicT, dead_letters: faust.TopicT, services: Services) -> None:
    writer = RetryingWriter(services.store.write, status=services.sinks.setdefault("raw_events", SinkStatus()))
    settings = services.settings

    @app.agent(events_topic, name="raw-events-sink", concurrency=1)
    async def store_raw_events(stream: faust.StreamT) -> None:
        # noack_take: offsets are acked by hand, only after ClickHouse has the rows
        async for batch in stream.noack_take(settings.sink_batch_size, within=settings.sink_batch_seconds):
            events, letters = decode([e.value for e in batch])     # [Event], [dead letter dict]
            for letter in letters:
                log.warning("record on %s is not an event: %s", events_topic.get_topic_name(), letter["reason"])
                await (await dead_letters.send(value=json.dumps(letter).encode()))
            await writer.write(events)                               # retries until stored
            for message in batch:
                await stream.ack(message)
