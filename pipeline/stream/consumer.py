"""Faust's Kafka consumer with six changes: a partition its group never committed is read from its start,
a message whose delivery does not have to wait costs no tasks (see `eager`), a partition whose stream is
nearly full stays in the fetch (see `StreamConsumer.on_buffer_full`) while its deliveries wait until the
stream has drained (see pipeline.stream.buffer_gates), the events a stream holds are limited in bytes as
well as in records (see pipeline.stream.byte_budget), and nothing is delivered between a seek and the resume
that follows it (see `StreamConsumer.perform_seek`).

After a rebalance (and when it finds its flow stopped) Faust "seeks every partition to its committed
offset". aiokafka leaves a partition without one (or at 0) wherever its position is. When a worker
died before its first commit, the worker that took its partitions over was seen (two-worker kill
test, 2 of 5 runs) with their positions at the highwater, nothing read, nothing acked: Faust's
getmany discards records it fetched when the flow stops or the generation changes mid-batch and
relies on that seek to read them again. Reading such a partition from its start is what
`consumer_auto_offset_reset="earliest"` promises; the fold ignores events it has already applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Coroutine, Generator, Mapping
from typing import Any

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

from pipeline.kafka import topics
from pipeline.settings import Settings
from pipeline.stream.buffer_gates import BufferGates
from pipeline.stream.byte_budget import ByteBudget

REWOUND_TOPICS = frozenset({topics.EVENTS})  # the agents' sources; changelogs are Faust's own business
# the events a stream holds when the caller names no budget: the worker's default (CHATLENS_STREAM_BUFFER_MIB)
DEFAULT_BUFFER_BYTES = Settings.model_fields["stream_buffer_mib"].default * 2**20


def uncommitted(committed: Mapping[TopicPartition, int | None], topic_names: Collection[str]) -> list[TopicPartition]:
    """The partitions of these topics that a seek to the committed offset leaves where they are."""
    return sorted((tp for tp, offset in committed.items() if not offset and tp.topic in topic_names),
                  key=lambda tp: (tp.topic, tp.partition))


DELIVERED = object()  # what an eager delivery gives back when it finished without waiting


class Continuation:
    """The rest of a coroutine that `eager` ran up to its first wait: awaiting it waits for what the coroutine
    was waiting for, then runs it on; a cancellation is thrown into the coroutine where it waits."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any):
        self.coro, self.waiting = coro, waiting

    def __await__(self) -> Generator[Any, None, Any]:
        waiting = self.waiting
        while True:
            thrown: BaseException | None = None
            try:
                yield waiting
            except BaseException as e:  # noqa: BLE001 - handed to the coroutine, which decides
                thrown = e
            try:
                waiting = self.coro.send(None) if thrown is None else self.coro.throw(thrown)
            except StopIteration as done:
                return done.value


def eager(callback: Callable[[Any], Coroutine[Any, Any, Any]]) -> Callable[[Any], Any]:
    """`callback` run at once up to its first wait: DELIVERED when it finished, else its Continuation.

    Faust's consumer hands every message to the topics' callback inside `wait_first(callback(message),
    suspend_flow.wait())`, so that a delivery blocked on a full or paused stream gives way to a rebalance;
    that is four tasks and an `asyncio.wait` per message (a no-op agent's process spent 6.2 s of CPU on
    100,000 events with them, 3.6 s without, start-up included). Nearly every delivery finishes without
    waiting: those skip `wait_first` (StreamConsumer.wait_first); one that waits goes through it as before,
    as its Continuation.
    """
    def deliver(message: Any) -> Any:
        coro = callback(message)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return DELIVERED
        return Continuation(coro, waiting)
    return deliver


class StreamConsumer(faust_aiokafka.Consumer):
    """Delivers messages eagerly (see `eager`). Also notes where each replay ends: `replay_until[partition]`
    of the events topic is its end offset when reading restarted from the committed offset. Events below
    it may have been folded before by a worker whose state never reached the changelog, so their raw
    events may be sent again."""

    replay_until: dict[int, int]

    def __init__(self, *args: Any, buffer_bytes: int = DEFAULT_BUFFER_BYTES,
                 budgeted: frozenset[str] = REWOUND_TOPICS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget, self.budgeted, self.gates = ByteBudget(buffer_bytes), budgeted, BufferGates()
        self.callback = eager(self._admitted(self.callback))

    def _admitted(self, callback: Callable[[Any], Coroutine[Any, Any, Any]]) -> Callable[[Any], Any]:
        """An event of a budgeted topic waits while its stream drains (the partition's gate) and for room in
        the byte budget; it counts once Faust has it."""
        budget, budgeted, gates = self.budget, self.budgeted, self.gates

        async def deliver(message: Any) -> Any:
            if message.topic not in budgeted:
                return await callback(message)
            if not gates.is_open(message.tp):
                await gates.wait(message.tp, self._streams_drained)
            size = len(message.value or b"")
            if not budget.fits(size):
                await budget.room_for(size, self.held_bytes)
            delivered = await callback(message)
            budget.take(size)
            return delivered
        return deliver

    def ack(self, message: Any) -> bool:
        if not message.acked and message.topic in self.budgeted:
            self.budget.give(len(message.value or b""))
        return super().ack(message)

    def _budgeted_channels(self) -> list[Any]:
        return [c for c in list(self.app.topics) if self.budgeted.intersection(getattr(c, "topics", None) or ())]

    def held_bytes(self) -> int:
        """The bytes of budgeted events the streams really hold: in their buffers, or taken and not acked."""
        taken = sum(len(m.value or b"") for m in list(self._unacked_messages)
                    if not m.acked and m.topic in self.budgeted)
        buffered = sum(len(event.message.value or b"")
                       for channel in self._budgeted_channels() for event in list(getattr(channel.queue, "_queue", ())))
        return taken + buffered

    def _streams_drained(self) -> bool:
        """Every stream of the budgeted topics down to the mark at which Faust reports its buffer drained."""
        return all(c.queue.qsize() <= c.queue.pressure_drop_size for c in self._budgeted_channels())

    def resume_flow(self) -> None:
        """After a rebalance: Faust dropped the events its buffers held, the count starts from what is left and
        every partition may deliver."""
        super().resume_flow()
        self.budget.reset(self.held_bytes())
        self.gates.open_all()

    async def wait_first(self, *coros: Any, timeout: float | None = None) -> WaitResults:
        """A delivery that already finished is the first to finish: the other waits are not started."""
        if coros and coros[0] is DELIVERED:
            for other in coros[1:]:
                if asyncio.iscoroutine(other):
                    other.close()  # never started: closed, so Python does not warn it was never awaited
            return WaitResults([DELIVERED], [None], False)
        return await super().wait_first(*coros, timeout=timeout)

    def on_buffer_full(self, tp: Any) -> None:
        """Leave the partition in the fetch when its stream's buffer is nearly full.

        Faust takes it out until the buffer drains to half, so that other streams' partitions go on. This
        consumer feeds one stream, the projection's: with every partition set aside the fetch loop slept a
        second, with some it waited up to a second for records of the others (aiokafka fetches nothing more
        from a broker while records it fetched for a partition wait), and the agent meanwhile emptied the
        buffer and waited. Left in, a full buffer holds the delivery back, as Faust does for any full stream
        (a Continuation of `eager`), and fetching goes on the moment there is room: 1.31 times the events/s
        in two alternated rounds of three runs, CPU per event about the same. Its deliveries wait at the
        partition's gate until the stream has drained (`on_buffer_drop`): one wait for thousands of messages.
        """
        if tp.topic in self.budgeted:
            self.gates.close(tp)

    def on_buffer_drop(self, tp: Any) -> None:
        self.gates.open(tp)

    async def perform_seek(self) -> None:
        """Stop the flow before seeking; every caller resumes it afterwards, Faust's recovery only after emptying
        the streams' buffers.

        After a rebalance Faust's recovery resumes the flow, then seeks every partition to its committed offset
        (this consumer: an uncommitted one to its start, see `seek_to_committed`) and resumes the flow again,
        which empties the streams' buffers. An event delivered between that seek and the second resume is
        emptied out after the fetch position and Faust's read offset have moved past it: it is not delivered
        again, and the partition's acks never move past it. That window is read from Faust's code; the
        symptom it explains was seen: the two-worker takeover test beside CPU burners failed 3 times in 57 runs
        with the partitions taken over never processed and their lag not moving. Stopped, nothing is delivered
        between the seek and the resume.
        """
        self.stop_flow()
        await super().perform_seek()

    async def seek_to_committed(self) -> Mapping[TopicPartition, int]:
        committed = await super().seek_to_committed()
        fresh = uncommitted(committed, REWOUND_TOPICS)
        if fresh:
            await self._thread.seek_to_beginning(*fresh)
            self.log.info("Reading %s from the start: the group has no committed offset there",
                          ", ".join(f"{tp.topic}[{tp.partition}]" for tp in fresh))
        sources = [tp for tp in committed if tp.topic in REWOUND_TOPICS]
        if sources:
            ends = await self.highwaters(*sources)
            self.replay_until = {**getattr(self, "replay_until", {}),
                                 **{tp.partition: offset for tp, offset in ends.items()}}
        return committed


class StreamTransport(faust_aiokafka.Transport):
    Consumer = StreamConsumer
    buffer_bytes, budgeted = DEFAULT_BUFFER_BYTES, REWOUND_TOPICS

    def create_consumer(self, callback: Any, **kwargs: Any) -> StreamConsumer:
        return super().create_consumer(callback, buffer_bytes=self.buffer_bytes, budgeted=self.budgeted, **kwargs)


def install(app, buffer_bytes: int = DEFAULT_BUFFER_BYTES, budgeted: frozenset[str] = REWOUND_TOPICS) -> None:
    """Give the app this consumer; before anything asks for app.topic() or app.consumer. The events of the
    `budgeted` topics a stream holds are kept under `buffer_bytes` in all."""
    app.transport = StreamTransport(app.conf.broker_consumer, app)
    app.transport.buffer_bytes, app.transport.budgeted = buffer_bytes, budgeted
