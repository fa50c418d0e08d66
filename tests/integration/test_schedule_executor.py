"""The schedule executor on real ClickHouse SQL (chDB) and the real broker: files, history, once per run id."""

from __future__ import annotations

import asyncio
import csv
import uuid
from datetime import UTC, datetime

import pytest

from consumers.schedules import FAILED, INTERRUPTED, RUNNING, SKIPPED, SUCCEEDED, RunHistory, ScheduleExecutor
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import KafkaPublisher
from pipeline.core.schedules import Schedule, ScheduleRegistry, manual_run, scheduled_run
from tests.support.user_rows import insert_users, user_row

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def bot_id() -> str:
    return f"shop{uuid.uuid4().hex[:8]}"


@pytest.fixture
def members(clickhouse, bot_id):
    """Three members of `newsletter` (one with a comma and an emoji), one user outside it, one of another bot."""
    insert_users(clickhouse, [
        user_row("web:a", bot_id, name="Ann", email="ann@example.com", segments=["newsletter"]),
        user_row("web:b", bot_id, name='Doe, "Jo" 😀', email="jo@example.com", segments=["newsletter", "vip"]),
        user_row("web:c", bot_id, name="Cy", segments=["newsletter"]),
        user_row("web:d", bot_id, name="Di", segments=["vip"]),
        user_row("web:a", "otherbot", name="Other", segments=["newsletter"]),
    ])
    return ["web:a", "web:b", "web:c"]


def schedule(bot_id: str, destination: str = "out/weekly") -> Schedule:
    return Schedule(f"s{uuid.uuid4().hex[:8]}", bot_id, "newsletter", "0 12 * * *", ("user_id", "name", "email"),
                    destination, datetime(2026, 11, 1, tzinfo=UTC))


def executor(clickhouse, root, bot_id: str) -> ScheduleExecutor:
    return ScheduleExecutor(clickhouse, root, {bot_id}, retry_delays=(0.05, 0.1))


def attempts(clickhouse, request) -> list[tuple[int, str]]:
    s = request.schedule
    return [(a, status) for a, status, _ in RunHistory(clickhouse).attempts(s.bot_id, s.schedule_id, request.run_id)]


def test_a_dynamic_segment_exports_the_users_its_saved_filter_matches_at_run_time(clickhouse, tmp_path, bot_id,
                                                                                   members):
    from dataclasses import replace

    from schemas.filters import Group
    named_d = Group.model_validate({"match": "any", "filters": [
        {"column": "name", "function": "equals", "value": "Di"}, {"column": "name", "function": "equals", "value": "Cy"}]})
    runner = ScheduleExecutor(clickhouse, tmp_path, {bot_id},
                              dynamic_segments=lambda bot: {"cd-names": named_d} if bot == bot_id else {})
    request = scheduled_run(replace(schedule(bot_id), segment="cd-names"), AT)
    assert asyncio.run(runner.handle(request)) == SUCCEEDED
    with (tmp_path / bot_id / "out/weekly/cd-names-20261201T120000Z.csv").open(newline="", encoding="utf-8") as f:
        assert [r["user_id"] for r in csv.DictReader(f)] == ["web:c", "web:d"]


def test_a_run_writes_the_segments_members_to_its_file_and_records_one_success(clickhouse, tmp_path, bot_id,
                                                                               members):
    request = scheduled_run(schedule(bot_id), AT)
    assert asyncio.run(executor(clickhouse, tmp_path, bot_id).handle(request)) == SUCCEEDED
    path = tmp_path / bot_id / "out/weekly/newsletter-20261201T120000Z.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["user_id"] for r in rows] == members and rows[1]["name"] == 'Doe, "Jo" 😀'
    assert list(rows[0]) == ["user_id", "name", "email"]
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # no .partial left behind
    [run] = RunHistory(clickhouse).history(bot_id, request.schedule.schedule_id)
    assert {k: run[k] for k in ("run_id", "attempt", "status", "rows", "file", "error")} == {
        "run_id": request.run_id, "attempt": 1, "status": SUCCEEDED, "rows": 3,
        "file": f"{bot_id}/out/weekly/newsletter-20261201T120000Z.csv", "error": None}   # from the root
    assert run["scheduled_for"] == "2026-12-01T12:00:00.000Z" and run["finished_at"] >= run["started_at"]


def test_a_run_id_that_already_succeeded_is_not_run_again(clickhouse, tmp_path, bot_id, members):
    request = scheduled_run(schedule(bot_id), AT)
    runner = executor(clickhouse, tmp_path, bot_id)
    assert asyncio.run(runner.handle(request)) == SUCCEEDED
    (tmp_path / bot_id / "out/weekly" / request.file).unlink()
    assert asyncio.run(runner.handle(request)) == SKIPPED
    assert not (tmp_path / bot_id / "out/weekly" / request.file).exists()
    assert attempts(clickhouse, request) == [(1, SUCCEEDED)]
    manual = manual_run(request.schedule, AT)   # a run by hand has its own id: it runs
    assert asyncio.run(runner.handle(manual)) == SUCCEEDED


def test_a_failing_export_is_retried_and_every_attempt_is_recorded_with_its_error(clickhouse, tmp_path, bot_id,
                                                                                   members):
    (tmp_path / bot_id).mkdir()
    (tmp_path / bot_id / "blocked").write_text("a file where the directory should be")
    request = scheduled_run(schedule(bot_id, destination="blocked/weekly"), AT)
    runner = executor(clickhouse, tmp_path, bot_id)
    assert asyncio.run(runner.handle(request)) == FAILED
    history = RunHistory(clickhouse).history(bot_id, request.schedule.schedule_id)
    assert [(r["attempt"], r["status"]) for r in history] == [(3, FAILED), (2, FAILED), (1, FAILED)]
    assert all(r["error"].startswith(("FileExistsError", "NotADirectoryError")) for r in history)
    (tmp_path / bot_id / "blocked").unlink()   # the cause goes away; the same run requested again carries on counting
    assert asyncio.run(runner.handle(request)) == SUCCEEDED
    assert attempts(clickhouse, request) == [(1, FAILED), (2, FAILED), (3, FAILED), (4, SUCCEEDED)]


def test_two_bots_exporting_the_same_segment_to_the_same_destination_write_apart(clickhouse, tmp_path, bot_id,
                                                                                  members):
    runner = ScheduleExecutor(clickhouse, tmp_path, {bot_id, "otherbot"}, retry_delays=(0.05,))
    ours, theirs = scheduled_run(schedule(bot_id, "shared"), AT), scheduled_run(schedule("otherbot", "shared"), AT)
    assert [asyncio.run(runner.handle(r)) for r in (ours, theirs)] == [SUCCEEDED, SUCCEEDED]
    with (tmp_path / bot_id / "shared" / ours.file).open(newline="") as a, \
            (tmp_path / "otherbot" / "shared" / theirs.file).open(newline="") as b:
        assert [r["name"] for r in csv.DictReader(b)] == ["Other"] and len(list(csv.DictReader(a))) == 3


def test_a_link_placed_under_the_root_after_the_schedule_was_made_is_not_followed(clickhouse, tmp_path, bot_id,
                                                                                   members):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / bot_id).mkdir(parents=True)
    (root / bot_id / "out").symlink_to(outside)        # placed once the schedule (out/weekly) was valid
    request = scheduled_run(schedule(bot_id), AT)
    assert asyncio.run(executor(clickhouse, root, bot_id).handle(request)) == FAILED
    history = RunHistory(clickhouse).history(bot_id, request.schedule.schedule_id)
    assert history[0]["error"].startswith("PermissionError") and list(outside.iterdir()) == []


def test_an_attempt_left_running_by_a_stopped_worker_is_marked_interrupted(clickhouse, tmp_path, bot_id, members):
    request = scheduled_run(schedule(bot_id), AT)
    RunHistory(clickhouse).record(request, 1, RUNNING, started_at=AT)
    assert asyncio.run(executor(clickhouse, tmp_path, bot_id).handle(request)) == SUCCEEDED
    history = RunHistory(clickhouse).history(bot_id, request.schedule.schedule_id)
    assert [(r["attempt"], r["status"], r["error"]) for r in history] == [
        (2, SUCCEEDED, None), (1, FAILED, INTERRUPTED)]


def test_a_request_delivered_twice_on_the_real_broker_runs_once(kafka_broker, clickhouse, tmp_path, bot_id, members):
    ensure_topics(kafka_broker.bootstrap, 4)
    s = schedule(bot_id)
    request, later = scheduled_run(s, AT), scheduled_run(s, datetime(2026, 12, 2, 12, 0, tzinfo=UTC))

    async def scenario() -> None:
        publisher = KafkaPublisher(kafka_broker.bootstrap, 10)
        await publisher.start()
        try:   # a leader change asks twice; the later run shares the partition, so it is handled after both
            for r in (request, request, later):
                await publisher.schedule_run(s.schedule_id, r.to_json())
        finally:
            await publisher.stop()
        runner = executor(clickhouse, tmp_path, bot_id)
        task = asyncio.create_task(runner.run(kafka_broker.bootstrap, f"it-{uuid.uuid4().hex[:8]}",
                                              session_timeout_seconds=6))
        try:
            async with asyncio.timeout(90):
                while attempts(clickhouse, later) != [(1, SUCCEEDED)]:
                    assert not task.done(), task
                    await asyncio.sleep(0.2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert attempts(clickhouse, request) == [(1, SUCCEEDED)]
    assert sorted(p.name for p in (tmp_path / bot_id / "out/weekly").iterdir()) == [
        "newsletter-20261201T120000Z.csv", "newsletter-20261202T120000Z.csv"]


def test_a_run_of_a_schedule_deleted_since_it_was_asked_for_is_not_executed(clickhouse, tmp_path, bot_id, members):
    request = scheduled_run(schedule(bot_id), AT)
    registry = ScheduleRegistry()
    registry.apply((request.schedule.key, request.schedule))
    registry.apply((request.schedule.key, None))
    runner = ScheduleExecutor(clickhouse, tmp_path, {bot_id}, registry=registry)
    assert asyncio.run(runner.handle(request)) == SKIPPED
    assert attempts(clickhouse, request) == [] and not (tmp_path / "out").exists()
