"""SQL of `chatlens rebuild`: replay raw events into fresh tables, compare, swap."""

PROJECTION_TABLES = ("users", "sessions", "messages")
SUFFIX = "_rebuild"

# An empty bot_id means every bot.
USERS_TO_REBUILD = """
SELECT uniqExact(bot_id, user_id) FROM events FINAL WHERE empty({bot_id:String}) OR bot_id = {bot_id:String}
"""

# One user's events arrive together and in time order: the fold reads them as a stream.
EVENTS_BY_USER = """
SELECT bot_id, user_id, payload FROM events FINAL WHERE empty({bot_id:String}) OR bot_id = {bot_id:String}
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
