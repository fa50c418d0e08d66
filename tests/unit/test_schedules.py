"""Scheduled segment exports, the pure part: validation, due runs, run ids, file names, the registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from pipeline.kafka import compacted, topics
from pipeline.kafka.codecs import decode_schedule
from pipeline.core.schedules import (
    RunRequest, Schedule, ScheduleError, ScheduleRegistry, ScheduleRequest, due_runs, file_name, latest_cron_time,
    bot_root, manual_run, new_schedule, run_id, scheduled_run,
)

NOW = datetime(2026, 12, 1, 12, 0, 30, 250_000, tzinfo=UTC)


def schedule(cron: str = "* * * * *", created_at: datetime = datetime(2026, 11, 1, tzinfo=UTC),
             schedule_id: str = "s1", bot_id: str = "demo") -> Schedule:
    return Schedule(schedule_id, bot_id, "newsletter", cron, ("user_id", "email"), "demo", created_at)


def make(root, **fields) -> Schedule:
    return new_schedule("demo", ScheduleRequest(**{"segment": "newsletter", "cron": "0 6 * * MON", **fields}),
                        root=root, now=NOW)


# --- due runs -------------------------------------------------------------------------------------------------

def test_latest_cron_time_is_the_most_recent_match_at_or_before_now():
    assert latest_cron_time("*/5 * * * *", datetime(2026, 12, 1, 12, 4, 59, tzinfo=UTC)) == \
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert latest_cron_time("*/5 * * * *", datetime(2026, 12, 1, 12, 5, tzinfo=UTC)) == \
        datetime(2026, 12, 1, 12, 5, tzinfo=UTC)   # exactly on the minute: due now, not five minutes ago
    assert latest_cron_time("0 6 * * MON", NOW) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def test_every_minute_schedule_is_due_for_the_current_minute():
    assert due_runs([schedule()], NOW, {}) == [(schedule(), datetime(2026, 12, 1, 12, 0, tzinfo=UTC))]


def test_a_run_already_requested_is_not_due_again_until_the_next_cron_time():
    s = schedule()
    at = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert due_runs([s], NOW, {s.key: at}) == []
    assert due_runs([s], NOW + timedelta(seconds=29, microseconds=749_999), {s.key: at}) == []
    assert due_runs([s], at + timedelta(minutes=1), {s.key: at}) == [(s, at + timedelta(minutes=1))]


def test_no_run_is_due_before_the_schedule_was_created():
    created = datetime(2026, 12, 1, 12, 0, 10, tzinfo=UTC)
    s = schedule(created_at=created)
    assert due_runs([s], NOW, {}) == []                                 # 12:00 is before 12:00:10
    assert due_runs([s], datetime(2026, 12, 1, 12, 1, tzinfo=UTC), {}) == \
        [(s, datetime(2026, 12, 1, 12, 1, tzinfo=UTC))]
    on_time = schedule(created_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    assert due_runs([on_time], NOW, {}) == [(on_time, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))]


def test_a_leader_back_after_downtime_requests_only_the_latest_missed_run():
    s = schedule("0 * * * *")
    last = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    assert due_runs([s], NOW, {s.key: last}) == [(s, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))]


def test_each_schedule_is_judged_on_its_own():
    hourly, daily = schedule("0 * * * *", schedule_id="h"), schedule("0 0 * * *", schedule_id="d")
    requested = {daily.key: datetime(2026, 12, 1, tzinfo=UTC)}
    assert due_runs([hourly, daily], NOW, requested) == [(hourly, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))]


# --- run ids and file names -----------------------------------------------------------------------------------

def test_run_id_and_file_name_carry_the_scheduled_time_in_utc():
    at = datetime(2026, 12, 1, 13, 0, tzinfo=UTC).astimezone(ZoneInfo("Europe/Warsaw"))
    assert run_id("s1", at) == "s1@20261201T130000Z"
    assert file_name("newsletter", at) == "newsletter-20261201T130000Z.csv"
    request = scheduled_run(schedule(), at)
    assert (request.run_id, request.file, request.manual) == ("s1@20261201T130000Z",
                                                              "newsletter-20261201T130000Z.csv", False)


def test_a_manual_run_is_named_by_the_request_time_with_an_id_of_its_own():
    first, second = manual_run(schedule(), NOW), manual_run(schedule(), NOW)
    assert first.run_id.startswith("s1@20261201T120030Z-manual-") and len(first.run_id.rsplit("-", 1)[1]) == 8
    assert first.file.startswith("newsletter-20261201T120030Z-manual-") and first.file.endswith(".csv")
    assert first.run_id != second.run_id and first.manual


def test_a_segment_name_becomes_one_safe_file_name_component():
    assert file_name("../Zoë VIP/2026", NOW) == "_Zoë_VIP_2026-20261201T120030Z.csv"


def test_a_run_request_survives_its_json():
    request = scheduled_run(schedule(), datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert RunRequest.from_json(json.loads(json.dumps(request.to_json()))) == request


# --- validation -----------------------------------------------------------------------------------------------

def test_a_valid_request_gets_defaults_and_a_normalised_destination(tmp_path):
    s = make(tmp_path, destination="weekly//news/./letters", cron="0  6 * *   MON")
    assert (s.cron, s.destination, s.bot_id, s.created_at) == ("0 6 * * MON", "weekly/news/letters", "demo", NOW)
    assert s.columns == ("user_id", "name", "email", "last_seen", "first_seen")
    assert make(tmp_path).destination == "."   # the bot's own directory


@pytest.mark.parametrize("cron, message", [
    ("* * * *", "cron: expected five fields"),
    ("61 * * * *", "cron: expected five fields.*Bad minute"),
    ("* * * * * *", "cron: expected five fields"),
    ("0 0 30 2 *", "cron: .*Bad day-of-month"),
])
def test_a_bad_cron_expression_is_refused_naming_the_field(tmp_path, cron, message):
    with pytest.raises(ScheduleError, match=message):
        make(tmp_path, cron=cron)


def test_unknown_columns_are_refused_with_their_position(tmp_path):
    with pytest.raises(ScheduleError, match=r"columns\[1\]: unknown column 'emial'; did you mean 'email'"):
        make(tmp_path, columns=["user_id", "emial"])
    assert make(tmp_path, columns=["user_id", "attributes.plan", "user_id"]).columns == ("user_id", "attributes.plan")


@pytest.mark.parametrize("destination, message", [
    ("/etc/cron.d", "relative to the bot's directory"),
    ("exports/../../etc", "'..' is not allowed"),
    ("..", "'..' is not allowed"),
    ("a\\b", "expected a directory name"),
    ("line\nbreak", "expected a directory name"),
])
def test_a_destination_outside_the_root_is_refused(tmp_path, destination, message):
    with pytest.raises(ScheduleError, match=f"destination: .*{message}"):
        make(tmp_path, destination=destination)


def test_a_destination_that_escapes_through_a_symbolic_link_is_refused(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    (root / "demo").mkdir()
    (root / "demo" / "link").symlink_to(outside)
    with pytest.raises(ScheduleError, match="destination: resolves outside"):
        new_schedule("demo", ScheduleRequest(segment="s", cron="* * * * *", destination="link/x"), root=root, now=NOW)


def test_each_bot_has_its_own_directory_so_no_destination_reaches_another_bots(tmp_path):
    alpha = new_schedule("alpha", ScheduleRequest(segment="news", cron="* * * * *", destination="beta"),
                         root=tmp_path, now=NOW)
    assert bot_root(tmp_path, alpha.bot_id) / alpha.destination == tmp_path / "alpha" / "beta"
    (tmp_path / "alpha").mkdir()
    (tmp_path / "alpha" / "to-beta").symlink_to(tmp_path / "beta")
    with pytest.raises(ScheduleError, match="resolves outside the bot's directory"):
        new_schedule("alpha", ScheduleRequest(segment="news", cron="* * * * *", destination="to-beta"),
                     root=tmp_path, now=NOW)


def test_every_wrong_field_is_named_at_once(tmp_path):
    with pytest.raises(ScheduleError) as caught:
        make(tmp_path, cron="nope", columns=["nope"], destination="/abs")
    assert [p.split(":")[0] for p in caught.value.problems] == ["cron", "columns[0]", "destination"]


# --- the registry ---------------------------------------------------------------------------------------------

def record(key: str, value: dict | None, offset: int = 0):
    return SimpleNamespace(key=key.encode(), value=None if value is None else json.dumps(value).encode(),
                           offset=offset)


def test_the_registry_follows_definitions_and_tombstones():
    registry = ScheduleRegistry()
    s = schedule()
    for item in map(decode_schedule, [record(s.key, s.to_json()), record("demo:s2", schedule(schedule_id="s2").to_json()),
                                   record("demo:s2", None)]):
        registry.apply(item)
    assert registry.all() == [s] and registry.get("demo", "s1") == s and registry.for_bot("other") == []


def test_a_record_that_does_not_parse_is_refused_and_the_follower_skips_it():
    for bad in (record("demo:s1", {"schedule_id": "s1"}), record("other:s1", schedule().to_json())):  # 2nd: key and value disagree
        with pytest.raises((KeyError, ValueError)):
            decode_schedule(bad)
        assert compacted.parse_or_skip(topics.SCHEDULES, decode_schedule, bad) is None
