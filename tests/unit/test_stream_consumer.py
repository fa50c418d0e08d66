"""Which partitions the stream consumer reads from the start after Faust's seek to committed offsets."""

from aiokafka import TopicPartition

from pipeline.kafka import topics
from pipeline.stream.consumer import REWOUND_TOPICS, uncommitted


def test_partitions_of_the_events_topic_without_a_committed_offset_or_at_zero_are_rewound():
    committed = {TopicPartition(topics.EVENTS, 1): None, TopicPartition(topics.EVENTS, 0): 0,
                 TopicPartition(topics.EVENTS, 2): 17}
    assert uncommitted(committed, REWOUND_TOPICS) == [TopicPartition(topics.EVENTS, 0),
                                                      TopicPartition(topics.EVENTS, 1)]


def test_changelog_and_leader_partitions_are_left_where_faust_put_them():
    committed = {TopicPartition("app-user-projection-changelog", 0): None,
                 TopicPartition("app-__assignor-__leader", 0): None}
    assert uncommitted(committed, REWOUND_TOPICS) == []
