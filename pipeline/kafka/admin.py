"""Creates chatlens's topics deliberately, with the partition count the settings name."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.kafka import topics


class TopicMismatch(RuntimeError):
    pass


def ensure_topics(bootstrap: str, partitions: int, replication_factor: int = 1) -> None:
    """Create missing topics; refuse to run on a topic whose partition count differs (Faust would crash)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chatlens-admin", request_timeout_ms=15000)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, replication_factor,
                            topic_configs={"cleanup.policy": "compact"} if name in topics.COMPACTED else {})
                   for name in topics.ALL if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
        for described in admin.describe_topics(list(topics.ALL)):
            found = len(described["partitions"])
            if found != partitions:
                raise TopicMismatch(
                    f"topic {described['name']!r} has {found} partitions but CHATLENS_PARTITIONS={partitions}; "
                    "set CHATLENS_PARTITIONS to match, or recreate the topic")
    finally:
        admin.close()


def partition_count(bootstrap: str, topic: str) -> int:
    """Partitions of an existing topic; 0 when it does not exist."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chatlens-admin", request_timeout_ms=15000)
    try:
        if topic not in set(admin.list_topics()):
            return 0
        return len(admin.describe_topics([topic])[0]["partitions"])
    finally:
        admin.close()
