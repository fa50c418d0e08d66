"""SQL of `chatlens rebuild`: replay raw events into fresh tables, compare, swap."""

PROJECTION_TABLES = ("users", "sessions", "messages")
SUFFIX = "_rebuild"

# An empty bot_id means every bot.
USERS_TO_REBUILD = """
SELECT uniqExact(bot_id, user_id) FROM events FINAL WHERE empty({bot_id:String}) OR bot_id = {bot_id:String}
"""

# Users are read in pages after the last user of the page before (keyset on the sort key), so no
# result stays open while the rebuilt rows are inserted (chDB allows one operation at a time).
NEXT_USERS = """
SELECT bot_id, user_id FROM events FINAL
WHERE (empty({bot_id:String}) OR bot_id = {bot_id:String}) AND (bot_id, user_id) > ({after_bot:String}, {after_user:String})
GROUP BY bot_id, user_id ORDER BY bot_id, user_id LIMIT {limit:UInt32}
"""

# One page's events, a user's together and in time order: the fold reads them as a stream.
EVENTS_OF_USERS = """
SELECT bot_id, user_id, payload FROM events FINAL
WHERE (empty({bot_id:String}) OR bot_id = {bot_id:String})
  AND (bot_id, user_id) > ({after_bot:String}, {after_user:String})
  AND (bot_id, user_id) <= ({last_bot:String}, {last_user:String})
ORDER BY bot_id, user_id, occurred_at, event_id
"""


def drop(table: str) -> str:
    return f"DROP TABLE IF EXISTS {table}{SUFFIX}"


def create_like(table: str) -> str:
    return f"CREATE TABLE {table}{SUFFIX} AS {table}"


def exchange(table: str) -> str:
    return f"EXCHANGE TABLES {table} AND {table}{SUFFIX}"


# Versions of session and message rows depend on arrival order; their content must not.
_IGNORED = {"users": "updated_at", "sessions": "version", "messages": "version"}


def differences(table: str) -> str:
    """Rows present on one side only (latest versions, deleted rows hidden by FINAL), for one bot or all."""
    ignored = _IGNORED[table]
    scope = "WHERE empty({bot_id:String}) OR bot_id = {bot_id:String}"
    live = f"SELECT * EXCEPT ({ignored}) FROM {table} FINAL {scope}"
    rebuilt = f"SELECT * EXCEPT ({ignored}) FROM {table}{SUFFIX} FINAL {scope}"
    return f"SELECT (SELECT count() FROM ({live} EXCEPT {rebuilt})) + (SELECT count() FROM ({rebuilt} EXCEPT {live}))"
