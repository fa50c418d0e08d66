"""Topic names and message keys: the one module that owns them."""

from __future__ import annotations

import json

from schemas.events import Event

EVENTS = "chatlens-events"
DEAD_LETTERS = "chatlens-events-dlq"
ROWS = "chatlens-rows"  # projection rows from the stream processors to the ClickHouse sink
BOT_SETTINGS = "chatlens-bot-settings"  # run-time bot settings (inactivity window); every worker reads all
SEGMENTS = "chatlens-segments"  # segment definitions (name, kind, saved filter); every worker reads all
SCHEDULES = "chatlens-schedules"  # export schedule definitions, key "<bot_id>:<schedule_id>"; every worker reads all
SCHEDULE_RUNS = "chatlens-schedule-runs"  # run requests from the leader and run-now, key "<schedule_id>"
# a rows record made while its events partition was replayed (offsets below the end at assignment): its raw
# events may have been sent before, by a worker whose state never saved them
REPLAYED_HEADER = "chatlens-replayed"
# a rows record holds the rows of one table: which, how many, and whose (so the sink can write it as it came)
ROWS_TABLE_HEADER, ROWS_COUNT_HEADER, ROWS_USERS_HEADER = "chatlens-table", "chatlens-rows", "chatlens-users"
ALL = (EVENTS, DEAD_LETTERS, ROWS, BOT_SETTINGS, SEGMENTS, SCHEDULES, SCHEDULE_RUNS)
COMPACTED = {BOT_SETTINGS, SEGMENTS, SCHEDULES}  # the latest value per key is the state


def event_key(event: Event) -> bytes:
    """One user's events share a key, so they share a partition and stay in order."""
    return f"{event.bot_id}:{event.user_id}".encode()


def folded_key(bot_id: str, user_id: str, event_id: str) -> bytes:
    """Where the users table remembers one folded event that the user's state forgot, when the record of its
    hour is full (see pipeline.stream.id_index; before 2026-12-05 every forgotten id had a record of its own).

    Its leading NUL keeps it apart from the user keys (a bot id begins with a letter or digit); JSON keeps
    the three parts apart whatever they hold.
    """
    return b"\x00" + json.dumps([bot_id, user_id, event_id], ensure_ascii=False).encode()


def folded_hour_key(bot_id: str, user_id: str, hour: int) -> bytes:
    """Where the users table remembers the forgotten ids of a user's events of one hour (epoch hours of event
    time; see pipeline.stream.id_index). Its leading byte 0x01 keeps it apart from the user and the single-id keys."""
    return b"\x01" + json.dumps([bot_id, user_id, hour], ensure_ascii=False).encode()


def definition_key(bot_id: str, item_id: str) -> bytes:
    """The key of a segment's or a schedule's definition: the newest record per key is the definition.

    Their ids never hold ':', so the bot id is all before the last one.
    """
    return f"{bot_id}:{item_id}".encode()


def split_definition_key(key: bytes) -> tuple[str, str]:
    bot_id, _, item_id = key.decode().rpartition(":")
    return bot_id, item_id


def schedule_run_key(schedule_id: str) -> bytes:
    """One schedule's run requests share a partition, so one executor takes them in order."""
    return schedule_id.encode()
