"""The byte budget of a stream: what fits, who waits, and that a wrong count never stops the stream."""

import asyncio

import faust
import pytest

from pipeline.stream import consumer
from pipeline.stream.byte_budget import ByteBudget


def test_events_fit_until_the_limit_and_one_alone_always_fits():
    budget = ByteBudget(100)
    assert budget.fits(100)
    budget.take(60)
    assert budget.fits(40) and not budget.fits(41)
    budget.give(60)
    assert budget.held == 0 and budget.fits(1_000)  # larger than the whole budget, but alone


async def waiting(budget: ByteBudget, size: int) -> asyncio.Task:
    """A delivery of `size` bytes that found no room; the count is right (recount gives what it holds)."""
    task = asyncio.create_task(budget.room_for(size, recount=lambda: budget.held))
    await asyncio.sleep(0.01)
    assert not task.done()
    return task


def test_a_delivery_without_room_waits_until_acknowledgements_make_it():
    async def scenario():
        budget = ByteBudget(100, check_seconds=60)
        budget.take(90)
        delivery = await waiting(budget, 30)
        budget.give(50)  # 40 held: 30 more fit
        await asyncio.wait_for(delivery, 1)
        assert budget.held == 40
    asyncio.run(scenario())


def test_a_delivery_keeps_waiting_while_what_is_given_back_is_not_enough():
    async def scenario():
        budget = ByteBudget(100, check_seconds=60)
        budget.take(100)
        delivery = await waiting(budget, 50)
        budget.give(10)
        await asyncio.sleep(0.01)
        assert not delivery.done()
        budget.give(40)
        await asyncio.wait_for(delivery, 1)
    asyncio.run(scenario())


def test_a_count_that_drifted_above_what_is_held_is_corrected_while_waiting():
    """Events Faust dropped without an ack would otherwise hold the budget forever."""
    async def scenario():
        budget = ByteBudget(100, check_seconds=0.01)
        budget.take(100)  # counted, but nothing is really held any more
        await asyncio.wait_for(budget.room_for(50, recount=lambda: 0), 1)
        assert budget.held == 0
    asyncio.run(scenario())


def test_a_reset_wakes_a_waiting_delivery():
    async def scenario():
        budget = ByteBudget(100, check_seconds=60)
        budget.take(100)
        delivery = await waiting(budget, 50)
        budget.reset(20)
        await asyncio.wait_for(delivery, 1)
    asyncio.run(scenario())


def test_a_budget_needs_a_positive_limit():
    with pytest.raises(ValueError, match="positive limit"):
        ByteBudget(0)


def test_the_stream_consumer_holds_its_budgeted_topics_to_the_bytes_it_is_installed_with():
    app = faust.App("budget-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    consumer.install(app, buffer_bytes=12_345)
    assert (app.consumer.budget.limit, app.consumer.budgeted) == (12_345, consumer.REWOUND_TOPICS)
