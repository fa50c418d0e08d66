"""Which partitions the stream consumer reads from the start after Faust's seek to committed offsets, and how
it delivers each message."""

import asyncio
import inspect

import faust
import pytest
from aiokafka import TopicPartition
from faust.types import TP

from pipeline.kafka import topics
from pipeline.stream import consumer
from pipeline.stream.consumer import DELIVERED, REWOUND_TOPICS, Continuation, StreamConsumer, eager, uncommitted


def test_partitions_of_the_events_topic_without_a_committed_offset_or_at_zero_are_rewound():
    committed = {TopicPartition(topics.EVENTS, 1): None, TopicPartition(topics.EVENTS, 0): 0,
                 TopicPartition(topics.EVENTS, 2): 17}
    assert uncommitted(committed, REWOUND_TOPICS) == [TopicPartition(topics.EVENTS, 0),
                                                      TopicPartition(topics.EVENTS, 1)]


def test_changelog_and_leader_partitions_are_left_where_faust_put_them():
    committed = {TopicPartition("app-user-projection-changelog", 0): None,
                 TopicPartition("app-__assignor-__leader", 0): None}
    assert uncommitted(committed, REWOUND_TOPICS) == []


# Eager delivery: Faust's consumer gives each message to the topics' callback inside wait_first (four tasks a
# message); StreamConsumer runs the callback at once and only a delivery that has to wait takes that path.
def test_a_delivery_that_does_not_wait_is_done_when_the_call_returns():
    delivered = []

    async def callback(message):
        delivered.append(message)

    assert eager(callback)("m1") is DELIVERED
    assert delivered == ["m1"]


def test_an_error_of_a_delivery_that_does_not_wait_is_raised_by_the_call():
    async def callback(message):
        raise ValueError(message)

    with pytest.raises(ValueError, match="poison"):
        eager(callback)("poison")


def test_a_delivery_to_a_full_stream_continues_once_the_stream_has_room():
    async def scenario():
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        queue.put_nowait("m1")

        async def callback(message):
            await queue.put(message)
            return f"{message} delivered"

        rest = eager(callback)("m2")
        assert isinstance(rest, Continuation)
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0)
        assert not task.done()
        assert await queue.get() == "m1"
        assert await task == "m2 delivered"
        assert await queue.get() == "m2"
    asyncio.run(scenario())


def test_a_waiting_delivery_that_is_cancelled_stops_where_it_waits():
    async def scenario():
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        queue.put_nowait("m1")
        stopped = []

        async def callback(message):
            try:
                await queue.put(message)
            except asyncio.CancelledError:
                stopped.append(message)
                raise

        task = asyncio.ensure_future(eager(callback)("m2"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert stopped == ["m2"]
        assert queue.get_nowait() == "m1" and queue.empty()  # m2 never got in
    asyncio.run(scenario())


def test_wait_first_of_a_finished_delivery_starts_none_of_the_other_waits():
    async def suspended():
        raise AssertionError("started")

    async def scenario():
        other = suspended()
        result = await StreamConsumer.wait_first(None, DELIVERED, other)  # type: ignore[arg-type]
        assert (result.done, result.stopped) == ([DELIVERED], False)
        assert inspect.getcoroutinestate(other) == inspect.CORO_CLOSED  # closed unstarted: no "never awaited"
    asyncio.run(scenario())


def test_a_nearly_full_stream_leaves_its_partition_in_the_fetch():
    """Faust sets such a partition aside until the stream drains to half; with the one stream this consumer
    feeds, that left the fetch idle for up to a second while the agent emptied the buffer."""
    app = faust.App("buffer-full-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    consumer.install(app)
    tp = TP(topics.EVENTS, 0)
    app.consumer._set_active_tps({tp, TP(topics.EVENTS, 1)})
    app.consumer.on_buffer_full(tp)
    assert tp in app.consumer._get_active_partitions() and not app.consumer._buffered_partitions


def test_a_seek_stops_the_flow_and_only_a_resume_starts_it_again():
    """After a rebalance Faust seeks, then resumes the flow and so empties the stream buffers: an event delivered
    in between was emptied out with its read offset passed, and never delivered again."""
    async def scenario():
        app = faust.App("seek-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
        consumer.install(app)
        stream, flowing_at_seek = app.consumer, []

        async def seek_to_committed():
            flowing_at_seek.append(stream.flow_active)
            return {TP(topics.EVENTS, 0): None}

        stream.resume_flow()
        stream.seek_to_committed = seek_to_committed
        await stream.perform_seek()
        assert flowing_at_seek == [False] and not stream.flow_active
        stream.resume_flow()
        assert stream.flow_active
    asyncio.run(scenario())
