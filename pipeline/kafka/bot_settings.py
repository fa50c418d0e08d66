"""Run-time bot settings: changed through the API, kept on a compacted topic every worker follows.

The log is the source of truth here too: a worker that starts reads the topic from the beginning,
so every worker applies the same inactivity window. A change applies to events processed after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from pipeline.kafka import compacted, topics


class BotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inactivity_minutes: float = Field(gt=0, le=24 * 60, description="session window in minutes (default 10)")


def parse(record) -> tuple[str, BotSettings] | None:
    """A settings record as (bot id, settings); a tombstone (no value) is skipped."""
    if record.value is None:
        return None
    return record.key.decode(), BotSettings.model_validate(json.loads(record.value))


async def current(bootstrap: str) -> dict[str, BotSettings]:
    """The latest settings of every bot, read before the worker processes anything."""
    latest: dict[str, BotSettings] = {}
    await compacted.read_current(bootstrap, topics.BOT_SETTINGS, parse, lambda item: latest.update([item]))
    return latest


async def follow(bootstrap: str, apply: Callable[[str, BotSettings], None]) -> None:
    """Apply every record of the settings topic, from the beginning, forever."""
    await compacted.follow(bootstrap, topics.BOT_SETTINGS, parse, lambda item: apply(*item))
