"""Topic names and message keys: the one module that owns them."""

from __future__ import annotations

from schemas.events import Event

EVENTS = "chatlens-events"
DEAD_LETTERS = "chatlens-events-dlq"
ROWS = "chatlens-rows"  # projection rows from the stream processors to the ClickHouse sink
BOT_SETTINGS = "chatlens-bot-settings"  # run-time bot settings (inactivity window); every worker reads all
SEGMENTS = "chatlens-segments"  # segment definitions (name, kind, saved filter); every worker reads all
ALL = (EVENTS, DEAD_LETTERS, ROWS, BOT_SETTINGS, SEGMENTS)
COMPACTED = {BOT_SETTINGS, SEGMENTS}  # the latest value per key is the state


def event_key(event: Event) -> bytes:
    """One user's events share a key, so they share a partition and stay in order."""
    return f"{event.bot_id}:{event.user_id}".encode()


def segment_key(bot_id: str, segment_id: str) -> bytes:
    """One key per segment definition; a segment id never holds ':', so the bot id is all before the last."""
    return f"{bot_id}:{segment_id}".encode()


def split_segment_key(key: bytes) -> tuple[str, str]:
    bot_id, _, segment_id = key.decode().rpartition(":")
    return bot_id, segment_id
