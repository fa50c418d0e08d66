"""What the HTTP app and the agents share, built once by the composition root (pipeline/app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from consumers.clickhouse import EventStore
from consumers.sink import SinkStatus
from pipeline.bots import Bot
from pipeline.publisher import Publisher
from pipeline.settings import Settings


@dataclass
class Services:
    settings: Settings
    bots: dict[str, Bot]
    publisher: Publisher
    store: EventStore
    clickhouse: Any = None  # clickhouse-connect client for read-only SQL; None in unit tests
    sinks: dict[str, SinkStatus] = field(default_factory=dict)
