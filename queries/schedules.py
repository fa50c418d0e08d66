"""SQL over `schedule_runs`, the history of scheduled segment exports (one row per attempt; FINAL = newest)."""

RUN_COLUMNS = ("bot_id", "schedule_id", "run_id", "attempt", "segment", "scheduled_for", "manual", "status", "rows",
               "file", "error", "started_at", "finished_at", "updated_at")

# What the API shows of an attempt, in this order.
HISTORY_FIELDS = ("run_id", "scheduled_for", "attempt", "status", "rows", "file", "error", "started_at",
                  "finished_at")

ATTEMPTS = """
SELECT attempt, status, started_at FROM schedule_runs FINAL
WHERE bot_id = {bot_id:String} AND schedule_id = {schedule_id:String} AND run_id = {run_id:String}
ORDER BY attempt
"""

HISTORY = """
SELECT run_id, scheduled_for, attempt, status, rows, file, error, started_at, finished_at FROM schedule_runs FINAL
WHERE bot_id = {bot_id:String} AND schedule_id = {schedule_id:String}
ORDER BY started_at DESC, attempt DESC
LIMIT {limit:UInt32}
"""

# The newest attempt of each of the bot's schedules.
LATEST_RUNS = """
SELECT schedule_id, run_id, scheduled_for, attempt, status, rows, file, error, started_at, finished_at
FROM schedule_runs FINAL
WHERE bot_id = {bot_id:String}
ORDER BY schedule_id, started_at DESC, attempt DESC
LIMIT 1 BY schedule_id
"""
