"""What the HTTP app and the agents share, built once by the composition root (pipeline/app.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from consumers.clickhouse import EventStore, ProjectionStore
from consumers.sink import SinkStatus
from pipeline.core.bots import Bot
from pipeline.kafka.publisher import Publisher
from pipeline.core.segments import SegmentRegistry
from pipeline.core.schedules import ScheduleRegistry
from pipeline.settings import Settings


def _no_supervisor(reason: BaseException) -> None:
    logging.getLogger(__name__).critical("a part crashed and no worker supervises it: %r", reason)


@dataclass
class Services:
    settings: Settings
    bots: dict[str, Bot]
    publisher: Publisher
    store: EventStore | None  # None in a worker that does not hold the store (CHATLENS_SINK=false)
    projections: ProjectionStore | None = None
    clickhouse: Any = None  # clickhouse-connect client for read-only SQL; None in unit tests
    sinks: dict[str, SinkStatus] = field(default_factory=dict)
    agents: dict[str, SinkStatus] = field(default_factory=dict)  # the stream's agents and tasks, for /health
    on_crash: Callable[[BaseException], None] = _no_supervisor  # set by the worker: stops it loudly
    progress: Any = None  # pipeline.core.progress.ProgressMonitor of this worker's consumer groups, for /health
    windows: dict[str, timedelta] = field(default_factory=dict)  # run-time inactivity windows per bot
    segments: SegmentRegistry = field(default_factory=SegmentRegistry)  # segment definitions, from their topic
    schedules: ScheduleRegistry = field(default_factory=ScheduleRegistry)  # export schedules, from their topic
    sql_slots: asyncio.Semaphore | None = None  # /v1/sql's own bound (CHATLENS_SQL_CONCURRENCY), made on first use
    role: str = "worker"  # or "ingest": a process that only takes webhooks and events into Kafka

    def window_for(self, bot_id: str) -> timedelta:
        """The bot's inactivity window: a run-time change, else its configuration, else 10 minutes."""
        if bot_id in self.windows:
            return self.windows[bot_id]
        bot = self.bots.get(bot_id)
        return timedelta(minutes=bot.inactivity_minutes if bot else 10)

    def apply_bot_settings(self, bot_id: str, values: Any) -> None:
        self.windows[bot_id] = timedelta(minutes=values.inactivity_minutes)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.settings.late_grace_hours)
