"""The floor under the stream: how fast faust-streaming alone hands one agent the events topic here.

A Faust app with the worker's consumer (pipeline.stream.consumer) and one agent that takes
batches as the projection does (noack_take, then ack each) and does nothing else; on uvloop like the
worker, at log level info (at warn, Faust's startup spinner would leave the root logger at DEBUG, as it did
the worker's). Run as its own process by bench/stream_bench.py:

    python -m bench.faust_floor BOOTSTRAP TOPIC COUNT OUT_FILE

It writes "events/s CPU-µs-per-event" from the first event to the COUNT-th into OUT_FILE and exits; the CPU
is the whole process's (every thread), so it is what Faust itself costs per event delivered.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid

import faust
import uvloop

from pipeline.stream import consumer
from pipeline.stream.faust_app import GIL_SWITCH_SECONDS


def main() -> None:
    bootstrap, topic, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as pipeline.app.run_worker sets them
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    app = faust.App(f"floor-{uuid.uuid4().hex[:8]}", broker=f"kafka://{bootstrap}", store="memory://",
                    datadir=tempfile.mkdtemp(prefix="chatlens-floor-"), consumer_auto_offset_reset="earliest",
                    web_enabled=False, producer_acks=-1, stream_wait_empty=True)
    consumer.install(app)
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    seen, started, cpu = 0, None, 0.0

    @app.agent(source, concurrency=1)
    async def nothing(stream: faust.StreamT) -> None:
        nonlocal seen, started, cpu
        async for batch in stream.noack_take(2000, within=0.5):
            if started is None:
                started, cpu = time.perf_counter(), time.process_time()
            seen += len(batch)
            for message in batch:
                await stream.ack(message)
            if seen >= count:
                with open(out, "w") as f:
                    f.write(f"{seen / (time.perf_counter() - started):.0f} "
                            f"{1e6 * (time.process_time() - cpu) / seen:.1f}\n")
                os._exit(0)

    sys.argv = [sys.argv[0], "worker", "-l", "info", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
