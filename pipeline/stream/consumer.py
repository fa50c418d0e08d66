"""Faust's Kafka consumer with one fix: a partition its group never committed is read from its start.

After a rebalance (and when it finds its flow stopped) Faust "seeks every partition to its committed
offset". aiokafka leaves a partition without one (or at 0) wherever its position is. When a worker
died before its first commit, the worker that took its partitions over was seen (two-worker kill
test, 2 of 5 runs) with their positions at the highwater, nothing read, nothing acked: Faust's
getmany discards records it fetched when the flow stops or the generation changes mid-batch and
relies on that seek to read them again. Reading such a partition from its start is what
`consumer_auto_offset_reset="earliest"` promises; the fold ignores events it has already applied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline.kafka import topics

REWOUND_TOPICS = frozenset({topics.EVENTS})  # the agents' sources; changelogs are Faust's own business


def uncommitted(committed: Mapping[TopicPartition, int | None], topic_names: Collection[str]) -> list[TopicPartition]:
    """The partitions of these topics that a seek to the committed offset leaves where they are."""
    return sorted((tp for tp, offset in committed.items() if not offset and tp.topic in topic_names),
                  key=lambda tp: (tp.topic, tp.partition))


class StreamConsumer(faust_aiokafka.Consumer):
    """Also notes where each replay ends: `replay_until[partition]` of the events topic is its end offset
    when reading restarted from the committed offset. Events below it may have been folded before by a
    worker whose state never reached the changelog, so their raw events may be sent again."""

    replay_until: dict[int, int]

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


def install(app) -> None:
    """Give the app this consumer; before anything asks for app.topic() or app.consumer."""
    app.transport = StreamTransport(app.conf.broker_consumer, app)
