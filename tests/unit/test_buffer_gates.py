"""Deliveries into a full stream buffer: held at the partition's gate until the buffer drained, so one wait
lets many in, and a gate never stays shut."""

import asyncio
from types import SimpleNamespace

import faust
from faust.types import TP

from pipeline.kafka import topics
from pipeline.stream import consumer
from pipeline.stream.buffer_gates import BufferGates
from pipeline.stream.consumer import DELIVERED

EVENTS_0, EVENTS_1 = TP(topics.EVENTS, 0), TP(topics.EVENTS, 1)


async def blocked(gates: BufferGates, partition: TP, drained=lambda: False) -> asyncio.Task:
    task = asyncio.create_task(gates.wait(partition, drained))
    await asyncio.sleep(0.01)
    assert not task.done()
    return task


def test_a_delivery_at_a_closed_gate_waits_until_it_opens_and_other_partitions_pass():
    async def scenario():
        gates = BufferGates(check_seconds=60)
        gates.close(EVENTS_0)
        assert not gates.is_open(EVENTS_0) and gates.is_open(EVENTS_1)
        await asyncio.wait_for(gates.wait(EVENTS_1, lambda: False), 1)
        delivery = await blocked(gates, EVENTS_0)
        gates.open(EVENTS_0)
        await asyncio.wait_for(delivery, 1)
    asyncio.run(scenario())


def test_a_gate_whose_drop_report_never_comes_opens_once_the_buffer_has_drained():
    async def scenario():
        gates = BufferGates(check_seconds=0.01)
        gates.close(EVENTS_0)
        buffer = {"drained": False}
        delivery = await blocked(gates, EVENTS_0, lambda: buffer["drained"])
        await asyncio.sleep(0.05)
        assert not delivery.done()  # still full: the gate stays shut
        buffer["drained"] = True
        await asyncio.wait_for(delivery, 1)
        assert gates.is_open(EVENTS_0)
    asyncio.run(scenario())


def installed() -> faust.App:
    app = faust.App("gates-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
    consumer.install(app)
    return app


def test_the_consumer_shuts_the_gates_of_the_events_topic_only_and_a_rebalance_opens_them():
    async def scenario():
        stream = installed().consumer
        changelog = TP("chatlens-user-projection-changelog", 0)
        stream.on_buffer_full(EVENTS_0)
        stream.on_buffer_full(changelog)
        assert not stream.gates.is_open(EVENTS_0) and stream.gates.is_open(changelog)
        stream.on_buffer_drop(EVENTS_0)
        assert stream.gates.is_open(EVENTS_0)
        stream.on_buffer_full(EVENTS_0)
        stream.gates.open_all()  # what resume_flow does after a rebalance
        assert stream.gates.is_open(EVENTS_0)
    asyncio.run(scenario())


def test_deliveries_into_a_full_buffer_wait_once_per_drain_not_once_per_message():
    """Faust's own queue and pressure reports; the agent takes 20 events at a time from a buffer of 100."""
    async def scenario():
        app = installed()
        app.flow_control.resume()
        queue = app.FlowControlQueue(maxsize=100)
        delivered: list[int] = []

        async def put(message):  # what Faust's conductor does with a message (ConductorHandler.__call__)
            if queue.full():
                await queue.put(message.offset)
            else:
                queue.put_nowait_enhanced(message.offset,
                                          on_pressure_high=lambda: stream.on_buffer_full(message.tp),
                                          on_pressure_drop=lambda: stream.on_buffer_drop(message.tp))

        stream = app.transport.create_consumer(put, on_partitions_revoked=None, on_partitions_assigned=None)

        async def agent():  # as noack_take: one event at a time, then the batch's work
            while len(delivered) < 1_000:
                for _ in range(20):
                    delivered.append(await queue.get())
                await asyncio.sleep(0)

        taking, waits = asyncio.create_task(agent()), 0
        for offset in range(1_000):
            outcome = stream.callback(SimpleNamespace(topic=topics.EVENTS, tp=EVENTS_0, offset=offset, value=b"e"))
            if outcome is not DELIVERED:
                waits += 1
                await outcome
        await asyncio.wait_for(taking, 5)
        assert delivered == list(range(1_000))
        # a wait lets in at least what drained from 80 to 40 % of the buffer; without the gates a delivery waited
        # after every batch the agent took (45 waits here; in Faust's no-op floor one message in seven waited)
        assert 0 < waits <= 1_000 // 40
    asyncio.run(scenario())
