"""Is the stream moving? Per consumer group and partition: lag, how old the oldest unprocessed record is
(`behind_seconds`: the data the store shows is about that old), and for how long it has not advanced.

Pure: fed by pipeline.kafka.group_lag with committed and end offsets as Kafka reports them. A partition
is stalled when it has lag and its committed offset has not moved for `stall_seconds`: the truth
/health tells even when every process looks alive.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seen:
    committed: int
    end: int
    moved_at: float  # when the committed offset last moved, or the partition last had no lag
    behind_seconds: float | None = None  # age of the oldest unprocessed record when observed (None: no lag)


class ProgressMonitor:
    def __init__(self, stall_seconds: float):
        self.stall_seconds = stall_seconds
        self._seen: dict[tuple[str, str, int], Seen] = {}
        self.observed_at: float | None = None
        self.error: str | None = None

    def observe(self, group: str, topic: str, partition: int, committed: int, end: int, now: float,
                behind_seconds: float | None = None) -> None:
        key = (group, topic, partition)
        old = self._seen.get(key)
        moved = old is None or committed != old.committed or committed >= end
        self._seen[key] = Seen(committed, end, now if moved else old.moved_at,
                               behind_seconds if committed < end else None)
        self.observed_at, self.error = now, None

    def failed(self, error: str) -> None:
        self.error = error

    def stalled(self, now: float) -> list[str]:
        """Names of the partitions with lag that have not advanced for stall_seconds, e.g. 'chatlens-sink chatlens-rows[2]'."""
        return [f"{group} {topic}[{partition}]" for (group, topic, partition), seen in sorted(self._seen.items())
                if seen.end > seen.committed and now - seen.moved_at >= self.stall_seconds]

    def report(self, now: float) -> dict:
        groups: dict[str, dict] = {}
        for (group, topic, partition), seen in sorted(self._seen.items()):
            entry = groups.setdefault(group, {"lag": 0, "behind_seconds": 0, "partitions": {}})
            lag = max(0, seen.end - seen.committed)
            behind = seen.behind_seconds or 0   # None once caught up (observe)
            entry["lag"] += lag
            entry["behind_seconds"] = max(entry["behind_seconds"], behind)
            entry["partitions"][f"{topic}[{partition}]"] = {
                "lag": lag, "behind_seconds": behind, "not_advanced_seconds": round(now - seen.moved_at, 1) if lag else 0}
        stalled = self.stalled(now)
        behind = max((g["behind_seconds"] for g in groups.values()), default=0)
        return {"ok": not stalled, "stall_seconds": self.stall_seconds, "stalled": stalled,
                "behind_seconds": behind, "groups": groups,
                **({"error": self.error} if self.error else {})}
