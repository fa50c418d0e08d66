"""Creates chatlens's topics deliberately, with the partition count the settings name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from pipeline.kafka import topics


class TopicMismatch(RuntimeError):
    pass


METADATA_WAIT_SECONDS = 30.0


def settled_partition_counts(describe: Callable[[list[str]], Iterable[dict]], names: list[str],
                             wait: float = METADATA_WAIT_SECONDS, pause: float = 0.1) -> dict[str, int]:
    """Partition count of each topic once the broker's metadata has caught up with its creation.

    A topic another process created a moment ago can be described with an error or no partitions
    yet (no real topic has 0); asking again until it settles keeps a racing start from refusing to run.
    """
    deadline = time.monotonic() + wait
    while True:
        described = {d["name"]: d for d in describe(names)}
        counts = {name: len(d["partitions"]) for name, d in described.items()
                  if not d.get("error_code") and d["partitions"]}
        if len(counts) == len(names) or time.monotonic() >= deadline:
            return {name: counts.get(name, 0) for name in names}
        time.sleep(pause)


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
        for name, found in settled_partition_counts(admin.describe_topics, list(topics.ALL)).items():
            if found != partitions:
                raise TopicMismatch(
                    f"topic {name!r} has {found} partitions but CHATLENS_PARTITIONS={partitions}; "
                    "set CHATLENS_PARTITIONS to match, or recreate the topic")
    finally:
        admin.close()


def partition_count(bootstrap: str, topic: str) -> int:
    """Partitions of an existing topic; 0 when it does not exist."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="chatlens-admin", request_timeout_ms=15000)
    try:
        if topic not in set(admin.list_topics()):
            return 0
        return settled_partition_counts(admin.describe_topics, [topic])[topic]
    finally:
        admin.close()
