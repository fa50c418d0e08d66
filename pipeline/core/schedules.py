"""Scheduled segment exports, the pure part: what a schedule is, when it is due, what its runs are called.

A schedule exports the members of one segment (the filter `segments has <segment>`) on a cron
expression, evaluated in UTC, to `<CHATLENS_SCHEDULE_DIR>/<bot>/<destination>/<segment>-<time>.csv`:
each bot has its own root, and no destination leaves it.
Definitions live on a compacted topic (key `<bot_id>:<schedule_id>`); the leader asks for due runs,
the executor runs them once per run id. No Kafka, ClickHouse or Faust here: values in, values out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from cronsim import CronSim, CronSimError
from pydantic import BaseModel, ConfigDict, Field

from queries.columns import FilterError, lookup
from queries.export import format_datetime
from schemas.exports import DEFAULT_EXPORT_COLUMNS, MAX_COLUMNS

MAX_ATTEMPTS = 3                 # a failing run is tried this many times per request …
RETRY_DELAYS = (1.0, 4.0)        # … waiting this long (seconds) before the second and the third attempt
STAMP = "%Y%m%dT%H%M%SZ"         # run times in run ids and file names, always UTC
MAX_DESTINATION = 512


class ScheduleError(ValueError):
    """A schedule that cannot be kept: `problems` are "field: what was expected (what came)" lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class ScheduleRequest(BaseModel):
    """What a person sends to create a schedule (the API's POST body)."""
    model_config = ConfigDict(extra="forbid", frozen=True)

    segment: str = Field(min_length=1, max_length=256, description="the static or dynamic segment to export")
    cron: str = Field(min_length=1, max_length=200, examples=["0 6 * * MON"],
                      description="five fields (minute hour day month weekday), evaluated in UTC")
    columns: list[str] | None = Field(default=None, min_length=1, max_length=MAX_COLUMNS,
                                      description=f"catalogue names in file order (default "
                                                  f"{','.join(DEFAULT_EXPORT_COLUMNS)})")
    destination: str | None = Field(default=None, min_length=1, max_length=MAX_DESTINATION,
                                    description="a directory relative to CHATLENS_SCHEDULE_DIR (default: the bot id)")


@dataclass(frozen=True)
class Schedule:
    schedule_id: str
    bot_id: str
    segment: str
    cron: str
    columns: tuple[str, ...]
    destination: str              # relative to the schedule root, normalised ("weekly/newsletter")
    created_at: datetime          # UTC; no run is due before it

    @property
    def key(self) -> str:
        """The Kafka key of its definition record."""
        return f"{self.bot_id}:{self.schedule_id}"

    def to_json(self) -> dict[str, Any]:
        return {"schedule_id": self.schedule_id, "bot_id": self.bot_id, "segment": self.segment, "cron": self.cron,
                "columns": list(self.columns), "destination": self.destination,
                "created_at": format_datetime(self.created_at)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Schedule:
        return cls(str(value["schedule_id"]), str(value["bot_id"]), str(value["segment"]), str(value["cron"]),
                   tuple(value["columns"]), str(value["destination"]), _utc(value["created_at"]))


def _utc(value: str | datetime) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def check_cron(cron: str) -> str:
    """The expression, whitespace folded; five fields that match at least once in the next 50 years."""
    folded = " ".join(cron.split())
    if len(folded.split()) != 5:
        raise ScheduleError([f"cron: expected five fields (minute hour day month weekday), e.g. '0 6 * * MON' "
                             f"(got {cron[:80]!r})"])
    try:
        next(CronSim(folded, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as e:
        raise ScheduleError([f"cron: expected five fields (minute hour day month weekday), e.g. '0 6 * * MON': "
                             f"{e} (got {cron[:80]!r})"]) from None
    except StopIteration:
        raise ScheduleError([f"cron: the expression never matches (got {cron[:80]!r})"]) from None
    return folded


def check_columns(columns: Iterable[str]) -> tuple[str, ...]:
    """Catalogue columns only (queries/columns.py), each once, in the order given."""
    checked: list[str] = []
    for i, name in enumerate(columns):
        try:
            lookup(name, f"columns[{i}]")
        except FilterError as e:
            raise ScheduleError([f"{e.location}: {e.message}"]) from None
        if name not in checked:
            checked.append(name)
    return tuple(checked)


def bot_root(root: Path, bot_id: str) -> Path:
    """The bot's own directory under the schedule root: every destination of the bot is below it."""
    return root / safe_name(bot_id)


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, its symbolic links followed, is `root` or below it."""
    return path.resolve().is_relative_to(root.resolve())


def check_destination(destination: str, root: Path) -> str:
    """A relative directory without `..` that stays under `root` (the bot's root; symbolic links included);
    normalised ('.' is the root itself)."""
    shown = destination[:80]
    path = PurePosixPath(destination)
    if not destination.strip() or any(ord(c) < 32 for c in destination) or "\\" in destination:
        raise ScheduleError([f"destination: expected a directory name like 'weekly/newsletter' (got {shown!r})"])
    if path.is_absolute():
        raise ScheduleError([f"destination: expected a path relative to the bot's directory (got {shown!r})"])
    if ".." in path.parts:
        raise ScheduleError([f"destination: '..' is not allowed (got {shown!r})"])
    if not inside(root / path, root):
        raise ScheduleError([f"destination: resolves outside the bot's directory (got {shown!r})"])
    return str(path)


def new_schedule(bot_id: str, request: ScheduleRequest, *, root: Path, now: datetime,
                 schedule_id: str | None = None) -> Schedule:
    """A valid schedule from a request, or ScheduleError naming every field that is wrong."""
    problems: list[str] = []
    checked: dict[str, Any] = {}
    checks = {"cron": lambda: check_cron(request.cron),
              "columns": lambda: check_columns(request.columns or DEFAULT_EXPORT_COLUMNS),
              "destination": lambda: check_destination(request.destination or ".", bot_root(root, bot_id))}
    for name, check in checks.items():
        try:
            checked[name] = check()
        except ScheduleError as e:
            problems += e.problems
    if problems:
        raise ScheduleError(problems)
    return Schedule(schedule_id or uuid.uuid4().hex[:12], bot_id, request.segment, checked["cron"],
                    checked["columns"], checked["destination"], _utc(now))


def latest_cron_time(cron: str, now: datetime) -> datetime | None:
    """The most recent time the expression matches that is <= now (UTC); None if none in 50 years."""
    after_now = _utc(now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        return next(CronSim(cron, after_now, reverse=True))   # reverse iteration is strictly before its start
    except StopIteration:
        return None


def due_runs(schedules: Iterable[Schedule], now: datetime,
             last_requested: Mapping[str, datetime]) -> list[tuple[Schedule, datetime]]:
    """(schedule, scheduled_for) to request now: each schedule's latest cron time <= now, if that is not
    before the schedule was created and later than what was already requested for it (by schedule key).

    Only the latest time counts, so a leader that was away for hours requests one run, not the backlog.
    """
    due = []
    for schedule in schedules:
        at = latest_cron_time(schedule.cron, now)
        if at is None or at < schedule.created_at:
            continue
        requested = last_requested.get(schedule.key)
        if requested is None or at > requested:
            due.append((schedule, at))
    return due


def safe_name(text: str) -> str:
    """Text as one file-name component: letters, digits, '.', '_' and '-' kept, anything else '_'."""
    name = re.sub(r"[^\w.-]", "_", text).lstrip(".")[:100]
    return name or "_"


def run_id(schedule_id: str, scheduled_for: datetime, manual: str | None = None) -> str:
    """`<schedule_id>@<YYYYmmddTHHMMSSZ>`, with `-manual-<id>` for a run asked for by hand."""
    return f"{schedule_id}@{_utc(scheduled_for):{STAMP}}" + (f"-manual-{manual}" if manual else "")


def file_name(segment: str, scheduled_for: datetime, manual: str | None = None) -> str:
    """`<segment>-<YYYYmmddTHHMMSSZ>.csv` of the run's time; a manual run's name also carries its id, so a
    run by hand never overwrites the scheduled file of the same second."""
    return f"{safe_name(segment)}-{_utc(scheduled_for):{STAMP}}" + (f"-manual-{manual}" if manual else "") + ".csv"


@dataclass(frozen=True)
class RunRequest:
    """One run to execute (the value on the runs topic): the schedule as it was when the run was asked for."""
    run_id: str
    schedule: Schedule
    scheduled_for: datetime
    file: str
    manual: bool = False
    requested_at: datetime = field(default_factory=lambda: _utc(format_datetime(datetime.now(UTC))))  # ms, as JSON

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "schedule": self.schedule.to_json(),
                "scheduled_for": format_datetime(self.scheduled_for), "file": self.file, "manual": self.manual,
                "requested_at": format_datetime(self.requested_at)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunRequest:
        return cls(str(value["run_id"]), Schedule.from_json(value["schedule"]), _utc(value["scheduled_for"]),
                   str(value["file"]), bool(value.get("manual")), _utc(value["requested_at"]))


def scheduled_run(schedule: Schedule, scheduled_for: datetime) -> RunRequest:
    return RunRequest(run_id(schedule.schedule_id, scheduled_for), schedule, scheduled_for,
                      file_name(schedule.segment, scheduled_for))


def manual_run(schedule: Schedule, now: datetime) -> RunRequest:
    """A run now, by hand: its own run id (never taken for the scheduled one of the same time)."""
    suffix = uuid.uuid4().hex[:8]
    at = _utc(now).replace(microsecond=0)
    return RunRequest(run_id(schedule.schedule_id, at, suffix), schedule, at, file_name(schedule.segment, at, suffix),
                      manual=True)


class ScheduleRegistry:
    """Every bot's schedules as this worker last read them from the definitions topic."""

    def __init__(self) -> None:
        self._schedules: dict[str, Schedule] = {}
        self._deleted: set[str] = set()   # keys of tombstones seen (schedule ids are never reused)

    def apply(self, item: tuple[str, Schedule | None]) -> None:
        key, schedule = item
        if schedule is None:
            self._schedules.pop(key, None)
            self._deleted.add(key)
        else:
            self._schedules[key] = schedule

    def was_deleted(self, bot_id: str, schedule_id: str) -> bool:
        """Whether this schedule's deletion has been read (a run asked for before it is not executed)."""
        return f"{bot_id}:{schedule_id}" in self._deleted

    def all(self) -> list[Schedule]:
        return list(self._schedules.values())

    def for_bot(self, bot_id: str) -> list[Schedule]:
        return sorted((s for s in self._schedules.values() if s.bot_id == bot_id),
                      key=lambda s: (s.created_at, s.schedule_id))

    def get(self, bot_id: str, schedule_id: str) -> Schedule | None:
        return self._schedules.get(f"{bot_id}:{schedule_id}")
