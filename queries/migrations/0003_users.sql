-- The Users section: one row per (bot, user), a new version on every change.
-- Readers pick the latest version (FINAL, or argMax) instead of trusting background merges.
CREATE TABLE IF NOT EXISTS users
(
    bot_id                  LowCardinality(String),
    user_id                 String,
    version                 UInt64,
    is_deleted              UInt8 DEFAULT 0,
    name                    String DEFAULT '',
    email                   String DEFAULT '',
    country                 String DEFAULT '',
    city                    String DEFAULT '',
    region                  String DEFAULT '',
    language                String DEFAULT '',
    referrer                String DEFAULT '',
    ip                      String DEFAULT '',
    timezone                String DEFAULT '',
    integration             String DEFAULT '',
    source                  String DEFAULT '',
    gender                  String DEFAULT '',
    username                String DEFAULT '',
    avatar                  String DEFAULT '',
    external_user_id        String DEFAULT '',
    banned                  UInt8 DEFAULT 0,
    channels                Array(LowCardinality(String)),
    sessions                UInt32 DEFAULT 0,
    messages_sent           UInt32 DEFAULT 0,
    clicks                  UInt32 DEFAULT 0,
    time_spent_seconds      Float64 DEFAULT 0,
    avg_sentiment           Nullable(Float64),
    first_seen              Nullable(DateTime64(3, 'UTC')),
    last_seen               Nullable(DateTime64(3, 'UTC')),
    last_message_at         Nullable(DateTime64(3, 'UTC')),
    attributes              Map(String, String),
    tags                    Array(String),
    segments                Array(String),
    last_session            String DEFAULT '{}',
    updated_at              DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY (bot_id, user_id);
