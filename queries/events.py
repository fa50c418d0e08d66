"""SQL over the raw `events` table (parameters are server-side `{name:Type}` placeholders)."""

EVENT_COLUMNS = ("bot_id", "user_id", "event_id", "kind", "channel", "occurred_at", "received_at", "payload")

STORED_EVENT_IDS = """
SELECT event_id FROM events
WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)} AND event_id IN {event_ids:Array(String)}
"""

COUNT_EVENTS = "SELECT count() FROM events FINAL WHERE bot_id = {bot_id:String}"

LIST_EVENTS = """
SELECT payload FROM events FINAL
WHERE bot_id = {bot_id:String} AND (empty({user_id:String}) OR user_id = {user_id:String})
ORDER BY occurred_at, event_id
LIMIT {limit:UInt32}
"""

# The latest deletion of each user: raw events and rows from before it are never stored again.
DELETIONS = """
SELECT user_id, max(occurred_at) FROM events
WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)} AND kind = 'user_deleted'
GROUP BY user_id
"""

# The same for every user, read once when the sink starts or is given partitions (it keeps them in memory).
ALL_DELETIONS = """
SELECT bot_id, user_id, max(occurred_at) FROM events WHERE kind = 'user_deleted' GROUP BY bot_id, user_id
"""

# "Delete means gone": a deleted user's raw events leave too, except the deletion itself, which a
# rebuild needs so that a replay of older events cannot bring the user back. Many users at once, as
# queries/projections.py erases their sessions and messages.
ERASE_EVENTS = """
DELETE FROM events WHERE bot_id = {bot_id:String} AND user_id IN {user_ids:Array(String)}
  AND occurred_at <= mapFromArrays({user_ids:Array(String)}, {untils:Array(DateTime64(3, 'UTC'))})[user_id]
  AND kind != 'user_deleted'
"""
