"""Realistic chat traffic for the stream benchmark: many users with skewed activity, real texts, every kind.

Texts are the 4,200 tweets of VADER's own evaluation set (Hutto & Gilbert, ICWSM 2014), read from the
source distribution of the pinned vaderSentiment on PyPI, downloaded once into ~/.cache/chatlens (not kept
in the repository), plus short chat replies ("hi", "thanks", "ok") that repeat as they do in chat.
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

CACHE = Path.home() / ".cache" / "chatlens"
VADER_SDIST = "vaderSentiment==3.3.2"
TWEETS_MEMBER = "hutto_ICWSM_2014/tweets_GroundTruth.txt"
SHORT = ["hi", "hello", "thanks", "thank you!", "ok", "ok 👍", "yes", "no", "menu", "help", "lol", "😂", "👍", "?"]
BOT_REPLIES = ["How can I help?", "Here are our plans: https://shop.example/plans", "Your order is on its way.",
               "Sorry to hear that. A human will answer soon.", "Anything else?", "You're welcome!"]
START = datetime(2026, 1, 1, tzinfo=UTC)  # every run's events in the past: the intake refuses a time > 24 h ahead
SPAN_SECONDS = 60 * 86400   # two months of traffic


def tweets() -> list[str]:
    """The tweets, fetched with pip from PyPI on first use."""
    cached = CACHE / "vader_tweets.txt"
    if not cached.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--dest", str(CACHE / "sdist"), VADER_SDIST], check=True)
        [sdist] = sorted((CACHE / "sdist").glob("vaderSentiment-*.tar.gz"))
        with tarfile.open(sdist) as outer:
            [inner] = [m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz")]
            with tarfile.open(fileobj=io.BytesIO(outer.extractfile(inner).read())) as resources:
                text = resources.extractfile(TWEETS_MEMBER).read().decode("utf-8", "replace")
        lines = [line.split("\t", 2)[2].strip() for line in text.splitlines() if line.count("\t") >= 2]
        cached.write_text("\n".join(t for t in lines if t))
    return cached.read_text().splitlines()


@dataclass(frozen=True)
class Traffic:
    events: list[dict]     # in arrival order
    inbound: int           # inbound messages: the users' messages_sent
    messages: int          # rows of the messages table (inbound and bot replies)
    users: int


def traffic(bot_id: str, users: int, events: int, seed: int = 1, busiest: int = 5000,
            start: datetime = START, prefix: str = "u", ids: str = "") -> Traffic:
    """About `events` events of `users` users; activity Zipf-like (user k gets ~ busiest / k^a events).

    Per user: sessions of a few to dozens of interactions, pauses of seconds to minutes inside a session
    and of 11 minutes to days between sessions; inbound texts, bot replies, clicks, profile updates and now
    and then an admin event. Users interleave in time order, as a bot sees them.
    """
    rng, texts = random.Random(seed), tweets()
    exponent = _exponent(users, events, busiest)
    out: list[tuple[datetime, int, dict]] = []
    inbound = messages = 0
    for rank in range(1, users + 1):
        user, n = f"web:{prefix}{rank:06}", max(1, round(busiest / rank ** exponent))
        index = 0
        for size in _session_sizes(rng, n):
            at = start + timedelta(seconds=rng.randrange(0, SPAN_SECONDS))   # sessions days apart, or hours
            for _ in range(size):
                event = _event(rng, texts, f"{ids}{user}-{index}", user, at)
                inbound += event.get("direction") == "inbound"
                messages += event["kind"] == "message"
                out.append((at, len(out), {**event, "bot_id": bot_id}))
                at += timedelta(seconds=rng.randint(480, 720) if rng.random() < 0.05 else rng.randint(2, 240))
                index += 1
    out.sort(key=lambda item: item[:2])
    return Traffic([e for _, _, e in out], inbound, messages, users)


def _session_sizes(rng: random.Random, n: int) -> list[int]:
    """n interactions split into sessions of 1 to 40."""
    sizes = []
    while n > 0:
        sizes.append(min(n, rng.randint(1, 40)))
        n -= sizes[-1]
    return sizes


def _exponent(users: int, events: int, busiest: int) -> float:
    """The Zipf exponent that makes `users` users send about `events` events, the busiest `busiest`."""
    low, high = 0.01, 5.0
    for _ in range(60):
        middle = (low + high) / 2
        total = sum(max(1, round(busiest / k ** middle)) for k in range(1, users + 1))
        low, high = (middle, high) if total > events else (low, middle)
    return (low + high) / 2


def _event(rng: random.Random, texts: list[str], event_id: str, user: str, at: datetime) -> dict:
    base = {"event_id": event_id, "user_id": user, "occurred_at": at.isoformat(), "channel": "web"}
    kind = rng.random()
    if kind < 0.55:
        text = rng.choice(SHORT) if rng.random() < 0.3 else rng.choice(texts)
        return {**base, "kind": "message", "direction": "inbound", "text": text}
    if kind < 0.80:
        return {**base, "kind": "message", "direction": "outbound", "text": rng.choice(BOT_REPLIES)}
    if kind < 0.90:
        return {**base, "kind": "button_click", "button_type": rng.choice(["url", "postback"]),
                "url": "https://shop.example/plans", "title": "Plans"}
    if kind < 0.96:
        return {**base, "kind": "profile_update",
                "profile": {"name": f"User {user[-4:]}", "country": rng.choice(["Poland", "Spain", "Chile"]),
                            "language": rng.choice(["pl", "es", "en"])}}
    if kind < 0.98:
        return {**base, "kind": "tag_added", "tag": rng.choice(["vip", "lead", "churn-risk"])}
    return {**base, "kind": "attribute_set", "key": "plan", "value": rng.choice(["free", "pro", "team"])}


def ndjson(events: list[dict]) -> bytes:
    return "\n".join(json.dumps(e, ensure_ascii=False) for e in events).encode()
