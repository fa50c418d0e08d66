-- The Users page sorts by last seen: a projection of users in that order lets a page read a few
-- granules instead of sorting every user of the bot (queries/candidates.py, which also checks that a
-- row read from it is still its user's newest version). Merges of a ReplacingMergeTree drop rows, so
-- the projection is rebuilt with each merged part.
ALTER TABLE users MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';
ALTER TABLE users ADD PROJECTION IF NOT EXISTS by_last_seen (SELECT * ORDER BY bot_id, last_seen);
ALTER TABLE users MATERIALIZE PROJECTION by_last_seen SETTINGS mutations_sync = 2;
