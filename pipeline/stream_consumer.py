"""Faust's Kafka consumer with one fix: a partition its group never committed is read from its start.

After a rebalance (and when it finds its flow stopped) Faust "seeks every partition to its committed
offset". aiokafka leaves a partition without one (or at 0) wherever its position is. When a worker
died before its first commit, its partitions move to another worker that fetches them while the
rebalance settles; Faust drops what it fetched at that moment and then relies on that seek to
re-read it, which never comes: the partition looks caught up and none of it was processed (found by
the two-worker kill test, about one run in five). Reading such a partition from its start is what
`consumer_auto_offset_reset="earliest"` promises; the fold ignores events it has already applied.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from pipeline import topics

REWOUND_TOPICS = frozenset({topics.EVENTS})  # the agents' sources; changelogs are Faust's own business


def uncommitted(committed: Mapping[TopicPartition, int | None], topic_names: Collection[str]) -> list[TopicPartition]:
    """The partitions of these topics that a seek to the committed offset leaves where they are."""
    return sorted((tp for tp, offset in committed.items() if not offset and tp.topic in topic_names),
                  key=lambda tp: (tp.topic, tp.partition))


class StreamConsumer(faust_aiokafka.Consumer):
    async def seek_to_committed(self) -> Mapping[TopicPartition, int]:
        committed = await super().seek_to_committed()
        fresh = uncommitted(committed, REWOUND_TOPICS)
        if fresh:
            await self._thread.seek_to_beginning(*fresh)
            self.log.info("Reading %s from the start: the group has no committed offset there",
                          ", ".join(f"{tp.topic}[{tp.partition}]" for tp in fresh))
        return committed


class StreamTransport(faust_aiokafka.Transport):
    Consumer = StreamConsumer


def install(app) -> None:
    """Give the app this consumer; before anything asks for app.topic() or app.consumer."""
    app.transport = StreamTransport(app.conf.broker_consumer, app)
