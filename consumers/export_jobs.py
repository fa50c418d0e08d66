"""Export jobs: large CSV exports written to a file by a thread of the worker, with status and progress.

Files, per bot: `<root>/<bot>/<job id>.csv`, only ever complete (written as `.csv.partial`, renamed when
the last row is on disk), and `<job id>.json`, the job's status, rewritten atomically on every change
and about once a second while rows are written. The registry is kept in memory; the status files let
a restarted worker still list and serve finished exports, and a job that a stopped worker left queued
or running reads as failed. Jobs are found by (bot, id) only, so one bot never sees another's.
Finished jobs older than the retention (CHATLENS_EXPORT_RETENTION_HOURS) are removed, files and status,
whenever the bot starts a new export or lists its exports, so the folder does not grow for ever.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from consumers.exports import write_csv
from queries.export import ExportQuery, format_datetime
from schemas.exports import DIRECT_LIMIT

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
JOB_ID = re.compile(r"[0-9a-f]{32}")
SAVE_EVERY_SECONDS = 1.0
INTERRUPTED = "interrupted: the worker stopped before the export finished; start the export again"


def _now() -> str:
    return format_datetime(datetime.now(UTC))


@dataclass
class ExportJob:
    id: str
    bot_id: str
    columns: list[str]
    total_rows: int               # counted when the job was created
    status: str = QUEUED
    rows_written: int = 0
    error: str | None = None
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None

    def describe(self) -> dict[str, Any]:
        """The job as JSON, with progress in [0, 1] (1 when done, even if users changed since the count)."""
        if self.status == DONE:
            progress = 1.0
        else:
            progress = min(1.0, self.rows_written / self.total_rows) if self.total_rows else 0.0
        return {**asdict(self), "progress": round(progress, 4)}


class ExportJobs:
    """Starts, tracks and finds export jobs; at most `max_running` write at once, the rest stay queued."""

    def __init__(self, root: Path, *, direct_limit: int = DIRECT_LIMIT, max_running: int = 2,
                 retention: timedelta = timedelta(hours=72), csv_guard: bool = True):
        self.root, self.csv_guard = root, csv_guard
        self.direct_limit = direct_limit
        self.retention = retention
        self._jobs: dict[tuple[str, str], ExportJob] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_running)

    def is_direct(self, total: int, requested_limit: int | None = None) -> bool:
        """Whether an export of `total` users downloads at once (a request may only lower the limit)."""
        limit = self.direct_limit if requested_limit is None else min(requested_limit, self.direct_limit)
        return total <= limit

    def start(self, client: Any, bot_id: str, query: ExportQuery, total: int) -> ExportJob:
        """Queue the export on a thread of its own; returns the job as first saved."""
        job = ExportJob(uuid.uuid4().hex, bot_id, list(query.columns), total)
        self._folder(bot_id).mkdir(parents=True, exist_ok=True)
        self.prune(bot_id)
        with self._lock:
            self._jobs[(bot_id, job.id)] = job
            self._save(job)
            snapshot = replace(job)
        threading.Thread(target=self._run, args=(job, client, query), daemon=True,
                         name=f"export-{job.id[:8]}").start()
        return snapshot

    def get(self, bot_id: str, job_id: str) -> ExportJob | None:
        """A copy of the bot's job, from memory or from its status file; None when the bot has no such job."""
        if not JOB_ID.fullmatch(job_id):
            return None
        with self._lock:
            job = self._jobs.get((bot_id, job_id))
            if job is not None:
                return replace(job)
        return self._load(self._folder(bot_id) / f"{job_id}.json", bot_id)

    def list(self, bot_id: str) -> list[ExportJob]:
        """The bot's jobs, newest first: this worker's and those only their status files remember."""
        self.prune(bot_id)
        folder = self._folder(bot_id)
        ids = {path.stem for path in folder.glob("*.json")} if folder.is_dir() else set()
        with self._lock:
            ids |= {job_id for (bot, job_id) in self._jobs if bot == bot_id}
        jobs = [job for job in (self.get(bot_id, job_id) for job_id in ids) if job is not None]
        return sorted(jobs, key=lambda job: (job.created_at, job.id), reverse=True)

    def file(self, bot_id: str, job_id: str) -> Path | None:
        """The finished CSV of the bot's job; None until the job is done."""
        job = self.get(bot_id, job_id)
        path = self._folder(bot_id) / f"{job_id}.csv"
        return path if job is not None and job.status == DONE and path.is_file() else None

    def wait(self, bot_id: str, job_id: str, timeout: float = 60.0) -> ExportJob | None:
        """Poll until the job is done or failed (or the time is up); the job as last seen."""
        deadline = time.monotonic() + timeout
        job = self.get(bot_id, job_id)
        while job is not None and job.status not in (DONE, FAILED) and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.get(bot_id, job_id)
        return job

    def prune(self, bot_id: str, *, now: datetime | None = None) -> list[str]:
        """Remove the bot's jobs that finished (done or failed) longer than the retention ago; their ids."""
        folder = self._folder(bot_id)
        if not folder.is_dir():
            return []
        cutoff = format_datetime((now or datetime.now(UTC)) - self.retention)
        removed = []
        for path in folder.glob("*.json"):
            job = self.get(bot_id, path.stem)   # one a stopped worker left unfinished reads as failed
            ended = job and (job.finished_at or (job.created_at if job.status == FAILED else None))
            if not ended or ended >= cutoff:
                continue   # ISO 8601 UTC strings of one format compare as their times
            for leftover in (folder / f"{job.id}.csv", path):
                leftover.unlink(missing_ok=True)
            with self._lock:
                self._jobs.pop((bot_id, job.id), None)
            removed.append(job.id)
        return sorted(removed)

    def _run(self, job: ExportJob, client: Any, query: ExportQuery) -> None:
        target = self._folder(job.bot_id) / f"{job.id}.csv"
        saved_at = time.monotonic()

        def progress(rows: int) -> None:
            nonlocal saved_at
            with self._lock:
                job.rows_written += rows
                if time.monotonic() - saved_at >= SAVE_EVERY_SECONDS:
                    self._save(job)
                    saved_at = time.monotonic()

        with self._slots:
            self._update(job, status=RUNNING)
            try:
                write_csv(client, query, target, on_rows=progress, guard=self.csv_guard)
                self._update(job, status=DONE, finished_at=_now())
            except Exception as e:  # noqa: BLE001 - the job reports it; the worker carries on
                log.exception("export %s of bot %s failed", job.id, job.bot_id)
                self._update(job, status=FAILED, error=f"{type(e).__name__}: {e}"[:2000], finished_at=_now())

    def _update(self, job: ExportJob, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(job, name, value)
            self._save(job)

    def _save(self, job: ExportJob) -> None:
        """Write the status file atomically (the caller holds the lock)."""
        path = self._folder(job.bot_id) / f"{job.id}.json"
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(asdict(job), ensure_ascii=False))
        os.replace(temporary, path)

    def _load(self, path: Path, bot_id: str) -> ExportJob | None:
        try:
            job = ExportJob(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if job.bot_id != bot_id:
            return None
        if job.status in (QUEUED, RUNNING):   # not in this worker's memory: its writer is gone
            job.status, job.error = FAILED, INTERRUPTED
        return job

    def _folder(self, bot_id: str) -> Path:
        """The bot's folder; any bot id becomes one safe file name ("/" and "." escaped)."""
        return self.root / quote(bot_id, safe="").replace(".", "%2E")
