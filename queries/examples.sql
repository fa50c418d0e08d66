-- Example analyst queries over the views of queries/migrations/0004_views.sql (documented in
-- queries/views/README.md). They run unchanged on a ClickHouse server and on embedded chDB.
--
-- Each query starts at a `-- name:` line and ends with ';'. The only parameters are the ones named
-- on its `-- params:` line, written as ClickHouse server-side placeholders ({name:Type}):
--   chatlens sql -p bot_id=demo -- "$(sed -n '/^-- name: top_users_last_7_days/,/;$/p' queries/examples.sql)"
--   clickhouse-client --param_bot_id=demo --queries-file queries/examples.sql
-- Times are UTC.

-- name: top_users_last_7_days
-- The 10 users who sent the most messages in the last 7 days, with their mean sentiment over those
-- messages (rounded to 3 places) and their current name ('' when unknown). Ties: by user_id.
-- params: bot_id String
SELECT
    m.user_id AS user_id,
    u.name AS name,
    m.channel AS channel,
    m.messages AS messages,
    m.avg_sentiment AS avg_sentiment
FROM
(
    SELECT user_id, any(channel) AS channel, count() AS messages, round(avg(sentiment), 3) AS avg_sentiment
    FROM messages_with_sentiment
    WHERE bot_id = {bot_id:String} AND direction = 'inbound' AND occurred_at >= now() - INTERVAL 7 DAY
    GROUP BY user_id
    ORDER BY messages DESC, user_id
    LIMIT 10
) AS m
LEFT JOIN
(
    SELECT user_id, name FROM current_users WHERE bot_id = {bot_id:String}
) AS u ON u.user_id = m.user_id
ORDER BY messages DESC, user_id;

-- name: daily_active_users_last_30_days
-- Daily active users per channel over the last 30 UTC days (today included), newest day first.
-- Days without any interaction on a channel have no row.
-- params: bot_id String
SELECT day, channel, active_users, interactions
FROM daily_active_users
WHERE bot_id = {bot_id:String} AND day > toDate(now(), 'UTC') - 30
ORDER BY day DESC, channel;

-- name: negative_session_share_by_channel
-- Per channel, the share of sessions whose average sentiment is negative (<= -0.05, VADER's
-- threshold), among the sessions that have a score (at least one scored inbound message).
-- params: bot_id String
SELECT
    channel,
    count() AS scored_sessions,
    countIf(avg_sentiment <= -0.05) AS negative_sessions,
    round(negative_sessions / scored_sessions, 4) AS negative_share
FROM current_sessions
WHERE bot_id = {bot_id:String} AND avg_sentiment IS NOT NULL
GROUP BY channel
ORDER BY channel;
