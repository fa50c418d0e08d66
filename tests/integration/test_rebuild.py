"""`chatlens rebuild` on real ClickHouse SQL (chDB): the batch fold of the raw events equals what the stream
wrote, read a page of users at a time with inserts between pages (chDB allows one operation at a time)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from consumers import rebuild as rebuild_module
from consumers.clickhouse import ClickHouseProjectionStore
from consumers.rebuild import rebuild
from pipeline.core.projection import coalesce
from pipeline.core.sentiment import score
from pipeline.kafka.codecs import decode_state
from pipeline.stream.fold_batch import fold_batch

pytestmark = pytest.mark.integration
WINDOW, GRACE = timedelta(minutes=10), timedelta(hours=24)


def events(bot: str, users: int, seed: int) -> list[bytes]:
    rng, out = random.Random(seed), []
    for n in range(users * 6):
        user, minute = rng.randrange(users), rng.randrange(0, 3 * 24 * 60, 3)
        kind = rng.choice(["message", "message", "button_click", "tag_added"])
        body = {"kind": kind, "event_id": f"{bot}-{n}", "bot_id": bot, "user_id": f"web:u{user:03}",
                "channel": "web", "occurred_at": f"2026-03-{1 + minute // 1440:02d}T{minute % 1440 // 60:02d}:"
                                                 f"{minute % 60:02d}:00Z"}
        body.update({"message": {"direction": "inbound", "text": rng.choice(["great", "awful", "ok 👍"])},
                     "button_click": {"button_type": "postback", "title": "Go"}, "tag_added": {"tag": "vip"}}[kind])
        out.append(json.dumps(body).encode())
    return sorted(out, key=lambda v: json.loads(v)["occurred_at"])


def test_a_paged_rebuild_with_inserts_between_pages_equals_what_the_stream_wrote(clickhouse, monkeypatch):
    store, table = ClickHouseProjectionStore(clickhouse), {}
    values = events("alpha", 40, seed=1) + events("beta", 15, seed=2)
    for start in range(0, len(values), 50):   # the stream's batches, written by the sink's store
        folded = fold_batch([(None, v) for v in values[start:start + 50]],
                            lambda _, key: decode_state(table.get(key)), score=score, window_for=lambda _: WINDOW,
                            grace=GRACE, read=lambda _, key: table.get(key))
        table.update({key: state for key, (_, state) in folded.states.items()})
        store.write(coalesce(folded.rows))
    monkeypatch.setattr(rebuild_module, "PAGE_USERS", 7)   # 55 users: 8 pages
    monkeypatch.setattr(rebuild_module, "FLUSH_ROWS", 25)  # inserts between (and within) pages
    report = rebuild(clickhouse, window_for=lambda _: WINDOW, grace=GRACE)
    assert report.users == 55 and report.rows > 100
    assert report.differences == {"users": 0, "sessions": 0, "messages": 0}
