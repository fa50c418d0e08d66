"""A Faust worker with the stream consumer whose agent is slower than its topic, so deliveries wait on a full
stream (the Continuation path of pipeline.stream.consumer.eager). Run as a process by a test:

    python -m tests.support.slow_agent BOOTSTRAP TOPIC COUNT OUT_FILE [BUDGET_BYTES]

It appends "partition offset value" per event received to OUT_FILE and exits after COUNT events. With
BUDGET_BYTES, the topic's events are held to that byte budget instead of a 4-event buffer, and each batch
first appends "held N": the bytes the stream really held when the batch came (StreamConsumer.held_bytes).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid

import faust

from pipeline.stream import consumer


def main() -> None:
    bootstrap, topic, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    budget = int(sys.argv[5]) if len(sys.argv) > 5 else None
    app = faust.App(f"slow-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", store="memory://",
                    datadir=tempfile.mkdtemp(prefix="chatlens-slow-agent-"), consumer_auto_offset_reset="earliest",
                    web_enabled=False, stream_buffer_maxsize=4 if budget is None else 4096)
    if budget is None:
        consumer.install(app)
    else:
        consumer.install(app, buffer_bytes=budget, budgeted=frozenset({topic}))
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    seen = 0

    @app.agent(source, concurrency=1)
    async def slow(stream: faust.StreamT) -> None:
        nonlocal seen
        with open(out, "a") as received:
            async for batch in stream.noack_take(3 if budget is None else 100, within=0.2):
                if budget is not None:
                    received.write(f"held {app.consumer.held_bytes()}\n")
                await asyncio.sleep(0.002)  # the consumer fills the buffer (4 events, or the budget) meanwhile, then waits
                for event in batch:
                    received.write(f"{event.message.partition} {event.message.offset} {event.value.decode()}\n")
                    await stream.ack(event)
                seen += len(batch)
                if seen >= count:
                    received.flush()
                    os._exit(0)

    sys.argv = [sys.argv[0], "worker", "-l", "info", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
