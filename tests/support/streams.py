"""Deterministic chat traffic for the stream tests: sessions, late arrivals, duplicates, admin events."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from pipeline.core.projection import rebuild_rows
from pipeline.core.sentiment import score
from schemas.events import Event, parse_event

TEXTS = ["hello", "hahaha 😀", "so slow!", "thanks 😍", "this is broken 😡", "where is my order?", "ok 👍", "lol"]
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def traffic(bot_id: str, users: int, seed: int) -> list[dict]:
    """Events of `users` users in arrival order: shuffled within a day (inside the grace), some twice."""
    rng = random.Random(seed)
    events: list[dict] = []
    for u in range(users):
        user, at = f"web:user-{u}", START + timedelta(minutes=rng.randrange(0, 600))
        for s in range(rng.randint(1, 3)):
            for m in range(rng.randint(1, 5)):
                at += timedelta(seconds=rng.randint(5, 590) if m else rng.randint(11 * 60, 180 * 60))
                kind = rng.random()
                base = {"event_id": f"{user}-{s}-{m}", "user_id": user, "occurred_at": at.isoformat()}
                if kind < 0.6:
                    events.append({**base, "kind": "message", "direction": "inbound", "text": rng.choice(TEXTS)})
                elif kind < 0.75:
                    events.append({**base, "kind": "message", "direction": "outbound", "text": "How can I help?"})
                elif kind < 0.9:
                    events.append({**base, "kind": "button_click", "button_type": rng.choice(["url", "postback"]),
                                   "url": "https://shop.example/plans", "title": "Plans"})
                else:
                    events.append({**base, "kind": "profile_update",
                                   "profile": {"name": f"User {u}", "country": rng.choice(["Poland", "Spain"])}})
        if rng.random() < 0.3:
            events.append({"event_id": f"{user}-tag", "user_id": user, "occurred_at": at.isoformat(),
                           "kind": "tag_added", "tag": "vip"})
    for event in events:
        event["bot_id"] = bot_id
    shuffled = events[:]
    rng.shuffle(shuffled)
    return shuffled + rng.sample(events, k=len(events) // 10)  # platform retries: same ids again


def ndjson(events: list[dict]) -> bytes:
    return "\n".join(json.dumps(e) for e in events).encode()


def expected_users(events: list[dict], window: timedelta = timedelta(minutes=10),
                   grace: timedelta = timedelta(hours=24)) -> dict[str, dict]:
    by_user: dict[str, list[Event]] = {}
    for raw in events:
        by_user.setdefault(raw["user_id"], []).append(parse_event(raw))
    users = {}
    for user, evs in by_user.items():
        [row] = [r for r in rebuild_rows(evs, score=score, window=window, grace=grace) if r["table"] == "users"]
        users[user] = row
    return users


USER_COLUMNS = ("user_id", "version", "sessions", "messages_sent", "clicks", "time_spent_seconds", "avg_sentiment",
                "first_seen", "last_seen", "last_message_at", "name", "country", "tags", "channels")
USERS_SQL = (f"SELECT {', '.join(USER_COLUMNS)} FROM users FINAL WHERE bot_id = {{bot:String}} ORDER BY user_id")


def as_sql_rows(users: dict[str, dict]) -> list[list]:
    """The expected rows as /v1/sql returns them (times ISO 8601 with +00:00)."""
    def value(v):
        return v.isoformat() if isinstance(v, datetime) else v
    return [[value(users[u][c]) for c in USER_COLUMNS] for u in sorted(users)]
