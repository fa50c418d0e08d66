-- Every canonical event as it came off the log: the raw material `chatlens rebuild` can replay.
-- ReplacingMergeTree on the event id: a redelivered event replaces itself instead of adding a row
-- (the sink also skips ids it already stored, so duplicates do not even wait for a merge).
CREATE TABLE IF NOT EXISTS events
(
    bot_id       LowCardinality(String),
    user_id      String,
    event_id     String,
    kind         LowCardinality(String),
    channel      LowCardinality(String),
    occurred_at  DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    payload      String CODEC(ZSTD(3)),
    stored_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(stored_at)
ORDER BY (bot_id, user_id, event_id);
