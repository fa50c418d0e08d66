"""Every JSON route and webhook of a running worker, fuzzed with hostile bodies (hypothesis, bounded): nested,
huge, NaN-laden, invalid UTF-8, long integers, wrongly typed. No answer is a 5xx, no connection is reset,
and the worker is healthy afterwards."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.signatures import sign_messenger, sign_slack, sign_telegram, sign_web
from tests.e2e.conftest import CHANNEL_SECRETS, start_worker_for_bots
from tests.support.fuzz import json_values

pytestmark = pytest.mark.e2e
BOT, KEY = "fuzzbot", "key-fuzzbot-0123456789"
BEARER = {"Authorization": f"Bearer {KEY}"}
ROUTES = [("POST", f"/v1/bots/{BOT}/{path}") for path in
          ("events", "users/search", "users/count", "users/actions", "exports", "segments", "schedules",
           "segments/some-segment")] + [("PUT", f"/v1/bots/{BOT}/settings"), ("POST", "/v1/sql")] + [
          ("POST", f"/webhooks/{channel}/{BOT}") for channel in CHANNEL_SECRETS]
FIELDS = ("limit", "filter", "filters", "cursor", "columns", "sort", "action", "user_ids", "name", "kind", "sql",
          "inactivity_minutes", "segment", "cron", "destination", "value", "update_id", "object", "entry", "type")


def nested(depth: int) -> bytes:
    return b'{"filter": ' + b"[" * depth + b"]" * depth + b"}"


def with_nan(value) -> bytes:
    return json.dumps({"limit": value, "filter": {"column": "sessions", "function": "greater_than", "value": value},
                       "inactivity_minutes": value, "update_id": value}).encode()


BODIES = st.one_of(
    st.sampled_from([10, 65, 1_500, 100_000]).map(nested),
    st.sampled_from([math.nan, math.inf, -math.inf]).map(with_nan),
    st.sampled_from([1_100_000, 6_000_000]).map(lambda n: b'{"text": "' + b"x" * n + b'"}'),
    st.sampled_from([b'{"limit": ' + b"9" * 5000 + b"}", b'{"update_id": -' + b"1" * 4400 + b"}"]),
    st.binary(max_size=64),
    st.sampled_from([b'{"name": "\xff\xfe"}', b"\xc3\x28", b'"\xed\xa0\x80"', b""]),
    st.dictionaries(st.sampled_from(FIELDS), json_values(), max_size=5).map(
        lambda d: json.dumps(d, allow_nan=True).encode()),
    json_values().map(lambda v: json.dumps(v, allow_nan=True).encode()),
)


def signed_headers(path: str, body: bytes) -> dict[str, str]:
    """Webhooks signed as their platform would, so a body gets past authentication into the parser."""
    headers = {"Content-Type": "application/json"}
    if not path.startswith("/webhooks/"):
        return {**headers, **(BEARER if path != "/v1/sql" else {"Authorization": "Bearer admin"})}
    channel, now = path.split("/")[2], datetime.now(UTC)
    secrets = CHANNEL_SECRETS[channel]
    sign = {"telegram": lambda: sign_telegram(body, secrets), "messenger": lambda: sign_messenger(body, secrets),
            "slack": lambda: sign_slack(body, secrets, now=now), "web": lambda: sign_web(body, secrets, now=now),
            "livechat": lambda: {}}[channel]
    return {**headers, **sign()}


@pytest.fixture(scope="module")
def worker(kafka_broker, tmp_path_factory):
    worker = start_worker_for_bots(kafka_broker, tmp_path_factory.mktemp("fuzz"), {BOT: KEY}, "e2e-fuzz")
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def client(worker):
    with httpx.Client(base_url=worker.url, timeout=60) as client:   # one keep-alive connection, reused
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(route=st.sampled_from(ROUTES), body=BODIES)
def test_no_hostile_body_gets_a_5xx_or_resets_the_connection(client, route, body):
    method, path = route
    response = client.request(method, path, content=body, headers=signed_headers(path, body))
    assert response.status_code < 500, (method, path, body[:200], response.text[:500])


def test_the_worker_is_healthy_after_the_fuzzing(client, worker):
    assert client.get("/health").status_code == 200, worker.log_tail()
    assert client.get(f"/v1/bots/{BOT}/users/{'web:nobody'}", headers=BEARER).status_code == 404
