"""Columns of the projection tables the sink writes, and the SQL it runs (one module owns them).

The users table has one column per profile field of the events (schemas.events.PROFILE_FIELDS)."""

from schemas.events import PROFILE_FIELDS

MESSAGE_COLUMNS = ("bot_id", "user_id", "event_id", "channel", "direction", "text", "attachments", "sentiment",
                   "occurred_at", "version", "is_deleted")
SESSION_COLUMNS = ("bot_id", "user_id", "session_id", "started_at", "ended_at", "duration_seconds", "interactions",
                   "messages", "clicks", "avg_sentiment", "version", "is_deleted")
USER_COLUMNS = ("bot_id", "user_id", "version", "is_deleted", *PROFILE_FIELDS, "banned", "channels", "sessions",
                "messages_sent", "clicks", "time_spent_seconds", "avg_sentiment", "first_seen", "last_seen",
                "last_message_at", "attributes", "tags", "segments", "last_session_start", "last_session_end",
                "last_session_messages", "last_session_sentiment", "last_session_profile")
COLUMNS = {"messages": MESSAGE_COLUMNS, "sessions": SESSION_COLUMNS, "users": USER_COLUMNS}
TIME_COLUMNS = {"occurred_at", "started_at", "ended_at", "first_seen", "last_seen", "last_message_at",
                "last_session_start", "last_session_end"}

# A deleted user's sessions and messages up to the deletion leave the projections (lightweight delete), many
# users in one statement, each up to its own deletion (`untils[i]` is `user_ids[i]`'s): a statement is a
# mutation whose cost depends on the store far more than on its users (on a million raw events in embedded
# chDB: 0.2-1.1 s for one user, 1.7 s for a thousand).
ERASE_SESSIONS = """
DELETE FROM sessions WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)}
  AND started_at <= mapFromArrays({user_ids:Array(String)}, {untils:Array(DateTime64(3, 'UTC'))})[user_id]
"""
ERASE_MESSAGES = """
DELETE FROM messages WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)}
  AND occurred_at <= mapFromArrays({user_ids:Array(String)}, {untils:Array(DateTime64(3, 'UTC'))})[user_id]
"""

CURRENT_USERS = "SELECT * FROM users FINAL WHERE bot_id = {bot_id:String} ORDER BY user_id"
CURRENT_SESSIONS = """
SELECT * FROM sessions FINAL WHERE bot_id = {bot_id:String} ORDER BY user_id, started_at, session_id
"""
CURRENT_MESSAGES = "SELECT * FROM messages FINAL WHERE bot_id = {bot_id:String} ORDER BY user_id, occurred_at, event_id"
