"""CSV exports on real ClickHouse SQL (chDB): 100,000 known users streamed out, parsed back, compared."""

from __future__ import annotations

import csv
import io
import json
import random
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from consumers.clickhouse import connect
from consumers.export_jobs import DONE, FAILED, INTERRUPTED, RUNNING, ExportJobs
from consumers.exports import count_users, stream_csv
from queries.export import ExportQuery, compile_export
from schemas.filters import Group
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration

USERS = 100_000
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COLUMNS = ["user_id", "name", "email", "country", "sessions", "time_spent_seconds", "avg_sentiment", "banned",
           "first_seen", "last_seen", "attributes.plan", "attributes.note", "tags", "segments", "channel"]
NAMES = ["Ann", 'Doe, "Jo"', "line\nbreak", "Zoë 😀", "Łódź", "=1+1", "trailing ", "a;b"]
COUNTRIES = ["PL", "ES", "DE", "BR"]


def synthetic(i: int, rng: random.Random, bot_id: str = "shop") -> dict:
    last = NOW - timedelta(milliseconds=rng.randrange(0, 90 * 86_400_000))
    return user_row(
        f"web:{i:06d}", bot_id, name=f"{rng.choice(NAMES)} {i}", email=f"user{i}@example.com",
        country=rng.choice(COUNTRIES), banned=int(rng.random() < 0.05), channels=sorted(rng.sample(
            ["web", "telegram", "slack"], rng.randint(1, 2))), sessions=rng.randint(0, 50),
        time_spent_seconds=rng.uniform(0, 9000), avg_sentiment=None if rng.random() < 0.2 else rng.uniform(-1, 1),
        first_seen=None if rng.random() < 0.1 else last - timedelta(days=rng.randint(0, 300)), last_seen=last,
        attributes={"plan": rng.choice(["free", "pro"]), **({"note": "said \"hi\", then\nleft"} if i % 7 == 0 else {})},
        tags=["vip", "beta, tester"] if i % 10 == 0 else [], segments=["Newsletter"] if i % 3 == 0 else [])


@pytest.fixture(scope="module")
def store(chdb_dsn):
    """100,000 users of `shop` (their newest versions), older versions, deleted users, and a rival bot."""
    client = connect(chdb_dsn, database=f"t_{uuid.uuid4().hex[:12]}")
    rng = random.Random(7)
    rows = [synthetic(i, rng) for i in range(USERS)]
    for start in range(0, USERS, 25_000):
        insert_users(client, [{**row, "name": "stale", "version": 0} for row in rows[start:start + 25_000]])
        insert_users(client, rows[start:start + 25_000])
    deleted = [user_row(f"web:gone-{i}", "shop", version=2, is_deleted=1, name="deleted") for i in range(50)]
    rival = [user_row(f"web:{i:06d}", "rival", name=f"RIVAL {i}", email="rival@example.com") for i in range(300)]
    insert_users(client, deleted + rival)
    return client, {row["user_id"]: row for row in rows}


def export(client, query: ExportQuery) -> list[list[str]]:
    data = b"".join(stream_csv(client, query))
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def text(value: str) -> str:
    """A text cell as the formula guard writes it: one a spreadsheet would run gets a leading '."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def expected_fields(row: dict) -> list[str]:
    """What each COLUMNS field must read, worked out here independently of queries/export.py."""
    return [text(row["user_id"]), text(row["name"]), text(row["email"]), text(row["country"]), str(row["sessions"]),
            repr(row["time_spent_seconds"]), "" if row["avg_sentiment"] is None else repr(row["avg_sentiment"]),
            "true" if row["banned"] else "false", iso(row["first_seen"]), iso(row["last_seen"]),
            text(row["attributes"]["plan"]), text(row["attributes"].get("note", "")), text(";".join(row["tags"])),
            text(";".join(row["segments"])), text(";".join(row["channels"]))]


def direct_count(client, bot_id: str = "shop") -> int:
    return client.query("SELECT count() FROM users FINAL WHERE bot_id = {b:String} AND is_deleted = 0",
                        parameters={"b": bot_id}).result_rows[0][0]


def test_export_of_100k_users_parses_back_with_every_field_matching(store):
    client, users = store
    rows = export(client, compile_export("shop", Group(), COLUMNS, now=NOW))
    assert rows[0] == COLUMNS
    body = rows[1:]
    assert len(body) == direct_count(client) == USERS
    assert [r[0] for r in body] == sorted(users)                      # every user once, in user_id order
    for index in random.Random(1).sample(range(USERS), 2000) + [0, 7, 10, USERS - 1]:
        assert body[index] == expected_fields(users[body[index][0]])


def test_export_memory_stays_flat_whatever_the_row_count(store):
    client, _ = store
    rows = [0]
    chunks = stream_csv(client, compile_export("shop", Group(), COLUMNS, now=NOW),
                        on_rows=lambda n: rows.__setitem__(0, rows[0] + n))
    tracemalloc.start()
    written = 0
    while rows[0] < 20_000:                      # two blocks and a half
        written += len(next(chunks))
    early_peak = tracemalloc.get_traced_memory()[1]
    written += sum(len(chunk) for chunk in chunks)
    final_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows[0] == USERS and written > 15 * 2**20          # five times the rows, over 15 MiB of CSV …
    assert final_peak < 1.2 * early_peak and final_peak < 32 * 2**20   # … and the peak did not grow


def test_filter_export_holds_exactly_the_matching_users(store):
    client, users = store
    group = Group.model_validate({"match": "all", "filters": [
        {"column": "country", "function": "equals", "value": "PL"},
        {"column": "attributes.plan", "function": "equals", "value": "pro"},
        {"column": "tags", "function": "has", "value": "vip"}]})
    query = compile_export("shop", group, ["user_id", "country", "attributes.plan", "tags"], now=NOW)
    rows = export(client, query)
    want = sorted(u for u, r in users.items()
                  if r["country"] == "PL" and r["attributes"]["plan"] == "pro" and "vip" in r["tags"])
    assert len(want) > 100
    assert rows[1:] == [[u, "PL", "pro", "vip;beta, tester"] for u in want]
    assert count_users(client, query) == len(want)


def test_id_selection_exports_those_users_in_id_order_skipping_unknown_deleted_and_other_bots_ids(store):
    client, users = store
    ids = ["web:000042", "web:000007", "web:nobody", "web:gone-3", "web:099999"]
    query = compile_export("shop", ids, ["user_id", "name", "email"], now=NOW)
    assert export(client, query)[1:] == [[u, users[u]["name"], users[u]["email"]]
                                         for u in ("web:000007", "web:000042", "web:099999")]
    assert count_users(client, query) == 3


def test_an_id_selection_of_100k_users_exports_every_one_of_them_quickly(store):
    client, users = store
    query = compile_export("shop", list(reversed(users)), ["user_id"], now=NOW)
    started = time.monotonic()
    rows = export(client, query)
    assert rows[1:] == [[u] for u in sorted(users)]
    assert time.monotonic() - started < 20      # `IN {ids:Array(String)}` took minutes past ~40,000 ids


def test_one_bots_export_never_holds_another_bots_users(store):
    client, users = store
    rival = export(client, compile_export("rival", Group(), ["user_id", "name", "email"], now=NOW))[1:]
    assert rival == [[f"web:{i:06d}", f"RIVAL {i}", "rival@example.com"] for i in range(300)]
    shop = export(client, compile_export("shop", ["web:000001"], ["name"], now=NOW))[1:]
    assert shop == [[users["web:000001"]["name"]]]
    everyone = compile_export("shop", Group(), ["name", "email"], now=NOW)
    names = {name for name, email in export(client, everyone)[1:] if email == "rival@example.com"}
    assert names == set()


def test_deleted_users_and_superseded_versions_are_left_out(store):
    client, _ = store
    group = Group.model_validate({"match": "any", "filters": [
        {"column": "name", "function": "equals", "value": "stale"},
        {"column": "name", "function": "equals", "value": "deleted"}]})
    assert export(client, compile_export("shop", group, ["user_id"], now=NOW)) == [["user_id"]]


def test_an_open_export_does_not_block_other_queries_on_the_shared_client(store):
    client, _ = store
    chunks = stream_csv(client, compile_export("shop", Group(), ["user_id"], now=NOW))
    assert next(chunks) == b"user_id\r\n" and next(chunks).startswith(b"web:000000\r\n")
    assert direct_count(client) == USERS      # on this thread, while the export's stream is open
    chunks.close()


def test_a_large_export_runs_as_a_job_with_progress_and_ends_in_a_file(store, tmp_path):
    client, users = store
    jobs = ExportJobs(tmp_path / "exports")
    query = compile_export("shop", Group(), ["user_id", "name", "tags"], now=NOW)
    total = count_users(client, query)
    assert not jobs.is_direct(total) and jobs.is_direct(10_000) and not jobs.is_direct(500, requested_limit=499)
    job = jobs.start(client, "shop", query, total)
    assert (job.status, job.total_rows, job.rows_written) in {("queued", USERS, 0), ("running", USERS, 0)}
    seen = []
    while (current := jobs.get("shop", job.id)).status not in (DONE, FAILED):
        seen.append((current.status, current.rows_written))
        time.sleep(0.005)
    assert any(status == RUNNING and 0 < rows < USERS for status, rows in seen), seen[-5:]
    assert [rows for _, rows in seen] == sorted(rows for _, rows in seen)          # progress only grows
    assert (current.status, current.rows_written, current.error) == (DONE, USERS, None)
    assert current.describe()["progress"] == 1.0 and current.finished_at.endswith("Z")
    path = jobs.file("shop", job.id)
    assert path == tmp_path / "exports" / "shop" / f"{job.id}.csv"
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{job.id}.csv", f"{job.id}.json"]
    assert path.read_bytes() == b"".join(stream_csv(client, query))
    assert json.loads((path.parent / f"{job.id}.json").read_text())["status"] == DONE


def test_a_restarted_worker_still_lists_and_serves_finished_exports_but_only_to_their_bot(store, tmp_path):
    client, _ = store
    first = ExportJobs(tmp_path)
    query = compile_export("shop", ["web:000001", "web:000002"], ["user_id"], now=NOW)
    job = first.wait("shop", first.start(client, "shop", query, 2).id)
    restarted = ExportJobs(tmp_path)
    again = restarted.get("shop", job.id)
    assert (again.id, again.status, again.rows_written, again.total_rows) == (job.id, DONE, 2, 2)
    assert [j.id for j in restarted.list("shop")] == [job.id]
    assert restarted.file("shop", job.id).read_bytes() == b"user_id\r\nweb:000001\r\nweb:000002\r\n"
    assert restarted.get("rival", job.id) is None and restarted.file("rival", job.id) is None
    assert restarted.list("rival") == []
    assert restarted.get("shop", "../shop/" + job.id) is None


def test_a_job_a_stopped_worker_left_running_reads_as_failed(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    job_id = uuid.uuid4().hex
    (folder / f"{job_id}.json").write_text(json.dumps({
        "id": job_id, "bot_id": "shop", "columns": ["user_id"], "total_rows": 10, "status": "running",
        "rows_written": 4, "error": None, "created_at": "2026-03-01T12:00:00.000Z", "finished_at": None}))
    job = ExportJobs(tmp_path).get("shop", job_id)
    assert (job.status, job.error, job.rows_written) == (FAILED, INTERRUPTED, 4)


def test_a_failing_job_reports_its_error_and_leaves_no_file(store, tmp_path):
    client, _ = store
    broken = ExportQuery("SELECT no_such_column FROM users FINAL WHERE bot_id = {bot_id:String}",
                         {"bot_id": "shop"}, "", {}, ("x",), ("string",))
    jobs = ExportJobs(tmp_path)
    job = jobs.wait("shop", jobs.start(client, "shop", broken, 1).id)
    assert job.status == FAILED and "no_such_column" in job.error and job.finished_at is not None
    assert jobs.file("shop", job.id) is None
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == [f"{job.id}.json"]
