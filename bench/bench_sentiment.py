"""Throughput of the project's sentiment over a realistic mix of chat messages, every one scored by VADER.

`score` keeps the scores of repeated short texts; cycling forty messages through it would time that cache,
so the bench times `uncached`: the same scoring, cache bypassed (the stream bench times both).

Run: .venv/bin/python -m bench.bench_sentiment   (prints messages/second on this machine)
"""

import itertools
import time

from pipeline.core.sentiment import _short, weighted

# About a third carry emoji (skin tones, ZWJ sequences, flags included); the rest are plain
# chat: greetings, questions, laughter, complaints, emoticons, a little non-English text.
MESSAGES = [
    "hello",
    "hi, I need help with my order",
    "where is my package?",
    "thanks a lot!",
    "thank you so much, you are amazing 😍",
    "hahaha",
    "lol ok",
    "so slow!",
    "this bot is useless, I want a human",
    "it crashed again...",
    "can you reset my password please",
    "ok 👍",
    "👍🏽",
    "great job guys 👏👏",
    "I'm not happy with the delivery 😡",
    "😂😂😂 that's hilarious",
    "why is it so laggy today",
    "no",
    "yes please",
    ":)",
    "that's not what I asked for :(",
    "love it ❤️",
    "menu",
    "what are your opening hours?",
    "merci beaucoup 🇫🇷",
    "the app keeps freezing when I open settings",
    "hehe nice",
    "👨‍👩‍👧 family plan price?",
    "I have been waiting for 2 hours 😢",
    "lmao ok ok",
    "Cool, see you tomorrow!",
    "💩 service",
    "how do I cancel my subscription",
    "Perfect, it works now 🎉🙏",
    "order #48213 never arrived",
    "wow that was fast 🔥",
    "ugh",
    "can I talk to someone?",
    "😭",
    "good morning ☀️",
]


def uncached(text: str) -> float:
    """The project's sentiment without its cache of repeated texts (every text scored by VADER)."""
    return weighted(text, _short.__wrapped__)


def measure(n: int = 20000) -> float:
    """Messages per second scored by VADER (`uncached`) over n messages cycled from MESSAGES."""
    for message in MESSAGES:  # warm up: build the analyzer and its emoji cache
        uncached(message)
    batch = list(itertools.islice(itertools.cycle(MESSAGES), n))
    start = time.perf_counter()
    for message in batch:
        uncached(message)
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    print(f"{measure():,.0f} messages/s")
