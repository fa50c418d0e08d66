-- Views for analysts: plain SQL over the four tables, the same in clickhouse-client and in chDB.
-- Documented, with example queries, in queries/views/README.md.
-- Every projection table is ReplacingMergeTree(version, is_deleted): these views read it with FINAL,
-- so they show the newest version of each row and hide rows whose newest version is a deletion.
-- Times are UTC; `day` columns are UTC calendar days.
-- (Statements are split on ';' at line ends: no line of a view body may end with one.)

-- current_users: one row per (bot_id, user_id), the newest version, deleted users left out.
CREATE VIEW IF NOT EXISTS current_users AS
SELECT
    bot_id, user_id, version,
    name, email, country, city, region, language, referrer, ip, timezone, integration, source,
    gender, username, avatar, external_user_id, banned,
    channels, sessions, messages_sent, clicks, time_spent_seconds, avg_sentiment,
    first_seen, last_seen, last_message_at,
    attributes, tags, segments,
    last_session_start, last_session_end, last_session_messages, last_session_sentiment, last_session_profile,
    updated_at
FROM users FINAL
WHERE is_deleted = 0;

-- current_sessions: one row per session as it stands now (sessions merged by a late event are gone),
-- with the channel of its user (the prefix of user_id: '<channel>:<channel user id>').
CREATE VIEW IF NOT EXISTS current_sessions AS
SELECT
    bot_id, user_id, splitByChar(':', user_id)[1] AS channel, session_id,
    started_at, ended_at, toDate(started_at) AS day, duration_seconds,
    interactions, messages, clicks, avg_sentiment, version
FROM sessions FINAL
WHERE is_deleted = 0;

-- messages_with_sentiment: every current message, inbound and outbound (bot replies), with its channel
-- (a user's messages all come from the user's channel) and its VADER compound score.
-- sentiment is NULL for bot replies; sentiment_label uses VADER's usual thresholds (±0.05).
CREATE VIEW IF NOT EXISTS messages_with_sentiment AS
SELECT
    bot_id, user_id, channel, event_id, direction, text, attachments,
    occurred_at, toDate(occurred_at) AS day, sentiment,
    multiIf(sentiment IS NULL, '', sentiment >= 0.05, 'positive', sentiment <= -0.05, 'negative', 'neutral')
        AS sentiment_label,
    version
FROM messages FINAL
WHERE is_deleted = 0;

-- daily_active_users: per bot, UTC day and channel, the users with at least one interaction that day.
-- Interactions are what the user does (inbound messages and button clicks), read from the raw `events`
-- log, which holds every interaction including button clicks (the messages table has no clicks).
-- Events are counted by distinct event_id, so redelivered duplicates never count twice (no FINAL needed).
-- A user deletion erases the user's history: interactions at or before the user's latest `user_deleted`
-- event are left out, as they are from users, sessions and messages. Users are per channel (user_id is
-- '<channel>:…'), so summing active_users over channels gives the bot's DAU.
CREATE VIEW IF NOT EXISTS daily_active_users AS
SELECT
    e.bot_id AS bot_id,
    toDate(e.occurred_at) AS day,
    e.channel AS channel,
    uniqExact(e.user_id) AS active_users,
    uniqExact(e.event_id) AS interactions,
    uniqExactIf(e.event_id, e.kind = 'message') AS inbound_messages,
    uniqExactIf(e.event_id, e.kind = 'button_click') AS clicks
FROM events AS e
LEFT JOIN
(
    SELECT bot_id, user_id, max(occurred_at) AS deleted_until
    FROM events
    WHERE kind = 'user_deleted'
    GROUP BY bot_id, user_id
) AS d ON e.bot_id = d.bot_id AND e.user_id = d.user_id
WHERE (e.kind = 'button_click' OR (e.kind = 'message' AND JSONExtractString(e.payload, 'direction') = 'inbound'))
  AND (d.deleted_until IS NULL OR e.occurred_at > d.deleted_until)
GROUP BY bot_id, day, channel;

-- sentiment_by_day: per bot, UTC day and channel, the scored inbound messages and their mean score.
CREATE VIEW IF NOT EXISTS sentiment_by_day AS
SELECT
    bot_id,
    toDate(occurred_at) AS day,
    channel,
    avg(assumeNotNull(sentiment)) AS avg_sentiment,
    count() AS scored_messages,
    countIf(sentiment >= 0.05) AS positive_messages,
    countIf(sentiment > -0.05 AND sentiment < 0.05) AS neutral_messages,
    countIf(sentiment <= -0.05) AS negative_messages
FROM messages FINAL
WHERE is_deleted = 0 AND direction = 'inbound' AND sentiment IS NOT NULL
GROUP BY bot_id, day, channel;
