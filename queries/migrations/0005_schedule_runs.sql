-- The history of scheduled segment exports: one row per attempt of a run, rewritten when the attempt
-- ends (running -> succeeded or failed). Readers use FINAL: the newest updated_at of an attempt wins.
-- run_id is "<schedule_id>@<YYYYmmddTHHMMSSZ>" (plus "-manual-<id>" for a run asked for by hand): a run
-- id with a succeeded attempt is never run again, however often it is requested.
CREATE TABLE IF NOT EXISTS schedule_runs
(
    bot_id         LowCardinality(String),
    schedule_id    String,
    run_id         String,
    attempt        UInt16,
    segment        String,
    scheduled_for  DateTime64(3, 'UTC'),
    manual         UInt8 DEFAULT 0,
    status         LowCardinality(String),
    rows           UInt64 DEFAULT 0,
    file           String DEFAULT '',
    error          String DEFAULT '',
    started_at     DateTime64(3, 'UTC'),
    finished_at    Nullable(DateTime64(3, 'UTC')),
    updated_at     DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (bot_id, schedule_id, run_id, attempt);
