"""The analysts' views (queries/migrations/0004_views.sql) and queries (queries/examples.sql) on real
ClickHouse SQL (chDB): known rows in the base tables, exact results out.

Rows are written the way the sink writes them: `client.insert` with explicit column names; several
versions of a row prove the views read the newest and hide rows whose newest version is a deletion.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from queries.migrate import migrate, migration_files, statements
from schemas.events import ButtonClick, Message, Profile, ProfileUpdate, UserDeleted, to_json

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "queries" / "examples.sql"
VIEWS_README = ROOT / "queries" / "views" / "README.md"
VIEWS = ("current_users", "current_sessions", "messages_with_sentiment", "daily_active_users", "sentiment_by_day")

DAY1, DAY2 = date(2026, 3, 1), date(2026, 3, 2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def naive(when: datetime) -> datetime:
    """clickhouse-connect reads DateTime64(3, 'UTC') as naive UTC datetimes."""
    return when.replace(tzinfo=None)


def insert(client, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    client.insert(table, [list(r) for r in rows], column_names=list(columns))


def select(client, sql: str, parameters: dict | None = None) -> list[tuple]:
    return [tuple(r) for r in client.query(sql, parameters=parameters or {}).result_rows]


USER_COLS = ("bot_id", "user_id", "version", "is_deleted", "name", "country", "channels", "messages_sent",
             "avg_sentiment", "attributes", "tags")
SESSION_COLS = ("bot_id", "user_id", "session_id", "started_at", "ended_at", "duration_seconds", "interactions",
                "messages", "clicks", "avg_sentiment", "version", "is_deleted")
MESSAGE_COLS = ("bot_id", "user_id", "event_id", "channel", "direction", "text", "attachments", "sentiment",
                "occurred_at", "version", "is_deleted")
EVENT_COLS = ("bot_id", "user_id", "event_id", "kind", "channel", "occurred_at", "received_at", "payload")


def user(bot, uid, version, name, *, deleted=0, country="", messages=0, sentiment=None, attributes=None, tags=()):
    return (bot, uid, version, deleted, name, country, [uid.split(":")[0]], messages, sentiment,
            attributes or {}, list(tags))


def session(bot, uid, sid, start: datetime, minutes: int, avg, version, *, deleted=0, messages=1, clicks=0):
    return (bot, uid, sid, start, start + timedelta(minutes=minutes), minutes * 60.0, messages + clicks,
            messages, clicks, avg, version, deleted)


def message(bot, uid, eid, direction, text, sentiment, when: datetime, version, *, deleted=0):
    return (bot, uid, eid, uid.split(":")[0], direction, text, 0, sentiment, when, version, deleted)


def event_row(event) -> tuple:
    """A raw-log row exactly as the event store writes it (payload = the canonical JSON)."""
    return (event.bot_id, event.user_id, event.event_id, event.kind, event.channel, event.occurred_at,
            event.received_at, to_json(event).decode())


def inbound(bot, uid, eid, when, text="hi"):
    return Message(event_id=eid, bot_id=bot, user_id=uid, occurred_at=when, direction="inbound", text=text)


def outbound(bot, uid, eid, when, text="hello, how can I help?"):
    return Message(event_id=eid, bot_id=bot, user_id=uid, occurred_at=when, direction="outbound", text=text)


def click(bot, uid, eid, when, kind="postback"):
    return ButtonClick(event_id=eid, bot_id=bot, user_id=uid, occurred_at=when, button_type=kind, title="Yes")


def examples() -> dict[str, tuple[str, set[str]]]:
    """queries/examples.sql as {name: (the text from its `-- name:` line to its ';', declared params)}."""
    text = EXAMPLES.read_text()
    blocks = re.split(r"(?m)^(?=-- name: )", text)[1:]
    out = {}
    for block in blocks:
        name = re.match(r"-- name: (\w+)", block).group(1)
        body = block[:block.index(";\n") + 1] if ";\n" in block else block
        declared = re.search(r"(?m)^-- params: (.*)$", body)
        params = set(re.findall(r"(\w+) \w+", declared.group(1))) if declared else set()
        out[name] = (body, params)
    return out


# ---------------------------------------------------------------- the migration


def test_migration_creates_the_views_and_is_idempotent(clickhouse):
    names = {r[0] for r in select(clickhouse, "SELECT name FROM system.tables "
                                              "WHERE database = currentDatabase() AND engine = 'View'")}
    assert names == set(VIEWS)
    assert migrate(clickhouse) == []  # recorded as applied
    for statement in statements(dict(migration_files())["0004_views.sql"]):
        clickhouse.command(statement)  # and safe to run again by hand
    for view in VIEWS:
        assert select(clickhouse, f"SELECT count() FROM {view}") == [(0,)]


def test_view_columns_are_the_documented_ones(clickhouse):
    readme = VIEWS_README.read_text()
    for view in VIEWS:
        section = readme.split(f"## {view}\n", 1)[1].split("\n## ", 1)[0]
        first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
        documented = set(re.findall(r"`(\w+)`", " ".join(first_cells)))
        columns = {r[0] for r in select(clickhouse, f"DESCRIBE TABLE {view}")}
        assert columns == documented, view


# ---------------------------------------------------------------- current_users, current_sessions


def test_current_users_take_the_newest_version_and_hide_deleted_users(clickhouse):
    insert(clickhouse, "users", USER_COLS, [
        user("demo", "telegram:1", 1, "Ann (old)", country="Spain", messages=1),
        user("demo", "telegram:1", 2, "Ann", country="Poland", messages=3, sentiment=0.25,
             attributes={"plan": "pro"}, tags=["vip"]),
        user("demo", "web:2", 1, "Bob", messages=1),
        user("demo", "web:2", 2, "Bob", deleted=1),          # deleted: gone from the view
        user("demo", "slack:3", 5, "Cid", messages=2, sentiment=-0.5),
        user("other", "telegram:1", 1, "Other bot's Ann"),
    ])
    insert(clickhouse, "users", USER_COLS, [user("demo", "slack:3", 4, "Cid (stale, arrives late)")])

    rows = select(clickhouse, "SELECT bot_id, user_id, version, name, country, messages_sent, avg_sentiment, "
                              "attributes, tags, channels FROM current_users ORDER BY bot_id, user_id")
    assert rows == [
        ("demo", "slack:3", 5, "Cid", "", 2, -0.5, {}, [], ["slack"]),
        ("demo", "telegram:1", 2, "Ann", "Poland", 3, 0.25, {"plan": "pro"}, ["vip"], ["telegram"]),
        ("other", "telegram:1", 1, "Other bot's Ann", "", 0, None, {}, [], ["telegram"]),
    ]
    # The documented example query of the views README, in its shape.
    assert select(clickhouse, "SELECT user_id FROM current_users WHERE bot_id = 'demo' AND country = 'Poland' "
                              "AND attributes['plan'] = 'pro' AND has(tags, 'vip')") == [("telegram:1",)]


def test_current_sessions_take_the_newest_version_and_hide_merged_sessions(clickhouse):
    t = at(DAY1, 10)
    insert(clickhouse, "sessions", SESSION_COLS, [
        session("demo", "telegram:1", "s1", t, 5, 0.5, 1),
        session("demo", "telegram:1", "s1", t, 30, -0.5, 3, messages=2, clicks=1),  # a late event extended it
        session("demo", "telegram:1", "s2", t + timedelta(minutes=20), 1, 0.1, 2),
        session("demo", "telegram:1", "s2", t + timedelta(minutes=20), 1, None, 3, deleted=1),  # merged into s1
        session("demo", "web:2", "s3", at(DAY2, 9), 0, None, 1, messages=0, clicks=1),
        session("other", "web:2", "s9", t, 2, 0.9, 1),
    ])
    rows = select(clickhouse, "SELECT bot_id, user_id, channel, session_id, started_at, ended_at, day, "
                              "duration_seconds, interactions, messages, clicks, avg_sentiment, version "
                              "FROM current_sessions ORDER BY bot_id, session_id")
    t, d2 = naive(t), naive(at(DAY2, 9))
    assert rows == [
        ("demo", "telegram:1", "telegram", "s1", t, t + timedelta(minutes=30), DAY1, 1800.0, 3, 2, 1, -0.5, 3),
        ("demo", "web:2", "web", "s3", d2, d2, DAY2, 0.0, 1, 0, 1, None, 1),
        ("other", "web:2", "web", "s9", t, t + timedelta(minutes=2), DAY1, 120.0, 1, 1, 0, 0.9, 1),
    ]


# ---------------------------------------------------------------- messages and sentiment


def _messages(client) -> None:
    insert(client, "messages", MESSAGE_COLS, [
        message("demo", "telegram:1", "m1", "inbound", "hi 😀", -0.75, at(DAY1, 10), 1),
        message("demo", "telegram:1", "m1", "inbound", "hi 😀", 0.5, at(DAY1, 10), 2),    # rescored: newest wins
        message("demo", "telegram:1", "m2", "outbound", "Hello! How can I help?", None, at(DAY1, 10, 1), 2),
        message("demo", "telegram:1", "m3", "inbound", "ok", 0.0, at(DAY1, 10, 2), 3),
        message("demo", "web:2", "m4", "inbound", "so slow!", -0.5, at(DAY1, 11), 1),
        message("demo", "web:2", "m5", "inbound", "thanks", 0.25, at(DAY2, 9), 2),
        message("demo", "web:2", "m5", "inbound", "thanks", 0.25, at(DAY2, 9), 3, deleted=1),  # erased
        message("demo", "slack:3", "m6", "inbound", "great 👍", 0.75, at(DAY2, 12), 1),
        message("other", "telegram:9", "m7", "inbound", "love it", 1.0, at(DAY1, 8), 1),
    ])


def test_messages_with_sentiment_are_current_with_channel_and_label(clickhouse):
    _messages(clickhouse)
    rows = select(clickhouse, "SELECT bot_id, user_id, channel, event_id, direction, text, occurred_at, day, "
                              "sentiment, sentiment_label, version FROM messages_with_sentiment "
                              "ORDER BY bot_id, occurred_at")
    assert rows == [
        ("demo", "telegram:1", "telegram", "m1", "inbound", "hi 😀", naive(at(DAY1, 10)), DAY1, 0.5, "positive", 2),
        ("demo", "telegram:1", "telegram", "m2", "outbound", "Hello! How can I help?", naive(at(DAY1, 10, 1)), DAY1,
         None, "", 2),
        ("demo", "telegram:1", "telegram", "m3", "inbound", "ok", naive(at(DAY1, 10, 2)), DAY1, 0.0, "neutral", 3),
        ("demo", "web:2", "web", "m4", "inbound", "so slow!", naive(at(DAY1, 11)), DAY1, -0.5, "negative", 1),
        ("demo", "slack:3", "slack", "m6", "inbound", "great 👍", naive(at(DAY2, 12)), DAY2, 0.75, "positive", 1),
        ("other", "telegram:9", "telegram", "m7", "inbound", "love it", naive(at(DAY1, 8)), DAY1, 1.0, "positive", 1),
    ]


def test_sentiment_by_day_averages_current_scored_inbound_messages(clickhouse):
    _messages(clickhouse)
    rows = select(clickhouse, "SELECT bot_id, day, channel, avg_sentiment, scored_messages, positive_messages, "
                              "neutral_messages, negative_messages FROM sentiment_by_day "
                              "ORDER BY bot_id, day, channel")
    assert rows == [
        ("demo", DAY1, "telegram", 0.25, 2, 1, 1, 0),   # m1 at its newest score 0.5, m3 0.0; m2 is a reply
        ("demo", DAY1, "web", -0.5, 1, 0, 0, 1),
        ("demo", DAY2, "slack", 0.75, 1, 1, 0, 0),      # web's m5 was erased
        ("other", DAY1, "telegram", 1.0, 1, 1, 0, 0),
    ]


# ---------------------------------------------------------------- daily active users


def test_daily_active_users_count_users_with_an_interaction(clickhouse):
    events = [
        inbound("demo", "telegram:1", "e1", at(DAY1, 10)),
        outbound("demo", "telegram:1", "e2", at(DAY1, 10, 1)),          # a bot reply: not an interaction
        click("demo", "telegram:1", "e3", at(DAY1, 10, 2), "url"),
        ProfileUpdate(event_id="e4", bot_id="demo", user_id="telegram:1", occurred_at=at(DAY1, 10, 3),
                      profile=Profile(name="Ann")),                     # not an interaction
        click("demo", "telegram:4", "e7", at(DAY1, 12)),
        inbound("demo", "web:2", "e5", at(DAY1, 11)),
        click("demo", "web:2", "e6", at(DAY2, 9)),
        inbound("demo", "slack:3", "e8", at(DAY2, 23, 59)),
        outbound("demo", "slack:6", "e12", at(DAY2, 10)),               # only bot replies: not active
        inbound("demo", "web:5", "e9", at(DAY1, 8)),                    # erased by the deletion below
        UserDeleted(event_id="e10", bot_id="demo", user_id="web:5", occurred_at=at(DAY1, 9)),
        inbound("demo", "web:5", "e11", at(DAY2, 10)),                  # after the deletion: counts
        inbound("other", "telegram:9", "e13", at(DAY1, 10)),
    ]
    rows = [event_row(e) for e in events]
    insert(clickhouse, "events", EVENT_COLS, rows)
    insert(clickhouse, "events", EVENT_COLS, rows[:1])                  # a redelivered duplicate row

    result = select(clickhouse, "SELECT bot_id, day, channel, active_users, interactions, inbound_messages, clicks "
                                "FROM daily_active_users ORDER BY bot_id, day, channel")
    assert result == [
        ("demo", DAY1, "telegram", 2, 3, 1, 2),   # telegram:1 (e1, e3), telegram:4 (e7)
        ("demo", DAY1, "web", 1, 1, 1, 0),        # web:2 (e5); web:5's e9 was erased
        ("demo", DAY2, "slack", 1, 1, 1, 0),      # slack:3; slack:6 only received replies
        ("demo", DAY2, "web", 2, 2, 1, 1),        # web:2 (click e6), web:5 (e11)
        ("other", DAY1, "telegram", 1, 1, 1, 0),
    ]
    assert select(clickhouse, "SELECT day, sum(active_users) FROM daily_active_users WHERE bot_id = 'demo' "
                              "GROUP BY day ORDER BY day") == [(DAY1, 3), (DAY2, 3)]


# ---------------------------------------------------------------- queries/examples.sql


def test_examples_declare_exactly_the_parameters_they_use():
    found = examples()
    assert list(found) == ["top_users_last_7_days", "daily_active_users_last_30_days",
                           "negative_session_share_by_channel"]
    for name, (sql, params) in found.items():
        assert set(re.findall(r"\{(\w+):\w+\}", sql)) == params == {"bot_id"}, name


@pytest.fixture
def recent(clickhouse):
    """Days relative to now (UTC, noon): 2 days ago is inside every window below, 10 inside 30 only."""
    today = datetime.now(UTC).date()
    return {n: at(today - timedelta(days=n), 12) for n in (2, 10, 40)}


def run_example(client, name: str, bot_id: str = "demo") -> list[tuple]:
    sql, _ = examples()[name]
    return select(client, sql, {"bot_id": bot_id})


def test_example_top_users_last_7_days(clickhouse, recent):
    d2, d10 = recent[2], recent[10]
    insert(clickhouse, "users", USER_COLS, [
        user("demo", "telegram:1", 1, "Ann (old)"), user("demo", "telegram:1", 2, "Ann"),
        user("demo", "web:2", 1, "Bob"),
    ])
    rows = [message("demo", "telegram:1", f"a{i}", "inbound", "x", s, d2 + timedelta(minutes=i), 1)
            for i, s in enumerate((0.5, 0.25, -0.25))]
    rows.append(message("demo", "telegram:1", "a-reply", "outbound", "y", None, d2, 1))
    rows += [message("demo", "telegram:1", f"old{i}", "inbound", "x", 1.0, d10, 1) for i in range(5)]
    rows += [message("demo", "web:2", "b0", "inbound", "x", -0.5, d2, 1),
             message("demo", "web:2", "b1", "inbound", "x", -0.25, d2, 1),
             message("demo", "web:7", "gone0", "inbound", "x", 0.1, d2, 1),
             message("demo", "web:7", "gone0", "inbound", "x", 0.1, d2, 2, deleted=1),
             message("demo", "slack:3", "c0", "inbound", "x", 0.75, d2, 1)]
    rows += [message("demo", f"livechat:{c}", f"l{c}", "inbound", "x", 0.0, d2, 1) for c in "abcdefghijk"]
    rows += [message("other", "telegram:9", f"o{i}", "inbound", "x", -1.0, d2, 1) for i in range(9)]
    insert(clickhouse, "messages", MESSAGE_COLS, rows)

    result = run_example(clickhouse, "top_users_last_7_days")
    assert result == [
        ("telegram:1", "Ann", "telegram", 3, pytest.approx(0.167)),
        ("web:2", "Bob", "web", 2, pytest.approx(-0.375)),
        *[(f"livechat:{c}", "", "livechat", 1, 0.0) for c in "abcdefgh"],   # ties by user_id; limit 10
    ]
    assert run_example(clickhouse, "top_users_last_7_days", "nobody") == []


def test_example_daily_active_users_last_30_days(clickhouse, recent):
    d2, d10, d40 = recent[2], recent[10], recent[40]
    insert(clickhouse, "events", EVENT_COLS, [event_row(e) for e in (
        inbound("demo", "telegram:1", "e1", d2),
        inbound("demo", "telegram:1", "e2", d2 + timedelta(minutes=5)),
        click("demo", "web:2", "e3", d2),
        inbound("demo", "telegram:1", "e4", d10),
        inbound("demo", "telegram:4", "e5", d10),
        inbound("demo", "telegram:1", "e6", d40),                        # older than 30 days
        outbound("demo", "messenger:8", "e7", d2),                       # a reply only
        inbound("other", "web:2", "e8", d2),
    )])
    assert run_example(clickhouse, "daily_active_users_last_30_days") == [
        (d2.date(), "telegram", 1, 2),
        (d2.date(), "web", 1, 1),
        (d10.date(), "telegram", 2, 2),
    ]


def test_example_negative_session_share_by_channel(clickhouse, recent):
    t = recent[2]
    insert(clickhouse, "sessions", SESSION_COLS, [
        session("demo", "telegram:1", "s1", t, 1, -0.5, 1),
        session("demo", "telegram:1", "s2", t, 1, 0.5, 1),
        session("demo", "telegram:1", "s3", t, 1, -0.05, 1),             # on the threshold: negative
        session("demo", "telegram:1", "s4", t, 1, None, 1, messages=0, clicks=1),   # no score: left out
        session("demo", "telegram:1", "s5", t, 1, -0.9, 1),
        session("demo", "telegram:1", "s5", t, 1, -0.9, 2, deleted=1),   # merged away: left out
        session("demo", "telegram:4", "s6", t, 1, -0.8, 1),
        session("demo", "telegram:4", "s6", t, 1, 0.3, 2),               # newest version is positive
        session("demo", "web:2", "s7", t, 1, -0.2, 1),
        session("demo", "web:2", "s8", t, 1, 0.1, 1),
        session("demo", "web:2", "s9", t, 1, 0.4, 1),
        session("demo", "slack:3", "s10", t, 1, 0.9, 1),
        session("other", "slack:3", "s11", t, 1, -0.9, 1),
    ])
    assert run_example(clickhouse, "negative_session_share_by_channel") == [
        ("slack", 1, 0, 0.0),
        ("telegram", 4, 2, 0.5),
        ("web", 3, 1, pytest.approx(0.3333)),
    ]


# ---------------------------------------------------------------- the views README


def test_views_readme_queries_run_as_written(clickhouse):
    _messages(clickhouse)
    blocks = re.findall(r"```sql\n(.*?)```", VIEWS_README.read_text(), re.S)
    assert len(blocks) == len(VIEWS)
    for sql in blocks:
        clickhouse.query(sql)


def test_views_follow_the_tables_swapped_in_by_rebuild(clickhouse):
    """`chatlens rebuild --apply` exchanges tables by name: the views read the swapped-in ones."""
    from queries import rebuild

    _messages(clickhouse)
    for table in rebuild.PROJECTION_TABLES:
        clickhouse.command(rebuild.drop(table))
        clickhouse.command(rebuild.create_like(table))
    insert(clickhouse, f"messages{rebuild.SUFFIX}", MESSAGE_COLS,
           [message("demo", "web:2", "r1", "inbound", "rebuilt", -0.25, at(DAY2, 9), 1)])
    for table in rebuild.PROJECTION_TABLES:
        clickhouse.command(rebuild.exchange(table))
        clickhouse.command(rebuild.drop(table))
    assert select(clickhouse, "SELECT bot_id, day, channel, avg_sentiment, scored_messages FROM sentiment_by_day") \
        == [("demo", DAY2, "web", -0.25, 1)]
