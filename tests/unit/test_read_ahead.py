import asyncio

import pytest

from pipeline.stream.read_ahead import handle_in_order


def test_the_next_batch_is_read_while_one_is_handled_and_batches_are_handled_one_at_a_time_in_order():
    log = []

    async def batches():
        for n in (1, 2, 3):
            log.append(f"read {n}")
            yield n
            await asyncio.sleep(0)

    async def handle(n):
        log.append(f"start {n}")
        for _ in range(3):
            await asyncio.sleep(0)   # e.g. sends awaited: the stream reads on meanwhile
        log.append(f"end {n}")

    asyncio.run(handle_in_order(batches(), handle))
    assert log == ["read 1", "start 1", "read 2", "end 1", "start 2", "read 3", "end 2", "start 3", "end 3"]


def test_what_handling_raises_comes_out_and_no_later_batch_is_handled():
    handled = []

    async def batches():
        for n in (1, 2, 3, 4):
            yield n

    async def handle(n):
        handled.append(n)
        if n == 2:
            raise ValueError("poison")

    with pytest.raises(ValueError, match="poison"):
        asyncio.run(handle_in_order(batches(), handle))
    assert handled == [1, 2]


def test_cancelled_it_cancels_the_batch_being_handled():
    events = []

    async def batches():
        yield 1
        await asyncio.Event().wait()   # no next batch comes

    async def handle(n):
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append(f"cancelled {n}")
            raise

    async def scenario():
        task = asyncio.create_task(handle_in_order(batches(), handle))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert events == ["cancelled 1"]
