-- One row per message (inbound and outbound) with its sentiment score: transcripts and history.
-- Sessions group messages by time at query time (a late event may merge sessions after the fact).
CREATE TABLE IF NOT EXISTS messages
(
    bot_id       LowCardinality(String),
    user_id      String,
    event_id     String,
    channel      LowCardinality(String),
    direction    LowCardinality(String),
    text         String,
    attachments  UInt16,
    sentiment    Nullable(Float32),
    occurred_at  DateTime64(3, 'UTC'),
    version      UInt64,
    is_deleted   UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (bot_id, user_id, event_id);

-- One row per session; a late event that merges two sessions deletes the superseded one
-- (is_deleted = 1 at a higher version). Readers use FINAL or argMax by version.
CREATE TABLE IF NOT EXISTS sessions
(
    bot_id              LowCardinality(String),
    user_id             String,
    session_id          String,
    started_at          DateTime64(3, 'UTC'),
    ended_at            DateTime64(3, 'UTC'),
    duration_seconds    Float64,
    interactions        UInt32,
    messages            UInt32,
    clicks              UInt32,
    avg_sentiment       Nullable(Float64),
    version             UInt64,
    is_deleted          UInt8 DEFAULT 0
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (bot_id, user_id, session_id);
