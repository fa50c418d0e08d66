"""Batches handled one at a time, in order, while the next one is being read.

Faust's `noack_take` fills its buffer in a task of its own, but only between two batches: while the agent handled
a batch the buffer stood full and still, and the next batch went through Faust's stream only once the agent asked
for it. Timed inside the agent over 20 batches of a harness run: half of its time waiting for the next batch (about
110 ms each) while Faust's queue held 8,000 events on average, the other half folding and sending. Handed to a
task instead, a batch is handled while the stream reads the next: 1.17x and 1.09x events/s in two alternated rounds
(bench/RESULTS.md). Still one batch at a time: the next one starts once the previous one is done, so its fold reads
the table the previous one wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def handle_in_order(batches: AsyncIterable[T], handle: Callable[[T], Awaitable[None]]) -> None:
    """`handle` each batch once the previous one's is done, in a task, so that the next batch is read meanwhile.

    What `handle` raises comes out here when the next batch arrives (or the batches end); cancelled, the batch being
    handled is cancelled with it.
    """
    handling: asyncio.Future[None] | None = None
    try:
        async for batch in batches:
            if handling is not None:
                await handling
            handling = asyncio.ensure_future(handle(batch))
        if handling is not None:
            await handling
    finally:
        if handling is not None and not handling.done():
            handling.cancel()
