"""Finished export jobs leave the disk after the retention; running and recent ones stay."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
import json

from consumers.export_jobs import DONE, FAILED, RUNNING, ExportJob, ExportJobs

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def saved(jobs: ExportJobs, job_id: str, status: str, finished: datetime | None, bot: str = "shop") -> ExportJob:
    job = ExportJob(job_id * 32, bot, ["user_id"], 1, status=status,
                    finished_at=finished.isoformat(timespec="milliseconds").replace("+00:00", "Z") if finished else None)
    folder = jobs.root / bot
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job.id}.json").write_text(json.dumps(asdict(job)))
    (folder / f"{job.id}.csv").write_text("user_id\nweb:1\n")
    return job


def test_jobs_finished_before_the_retention_are_removed_with_their_files(tmp_path):
    jobs = ExportJobs(tmp_path, retention=timedelta(hours=72))
    old_done = saved(jobs, "a", DONE, NOW - timedelta(hours=73))
    old_failed = saved(jobs, "b", FAILED, NOW - timedelta(days=30))
    recent = saved(jobs, "c", DONE, NOW - timedelta(hours=71))
    other_bot = saved(jobs, "d", DONE, NOW - timedelta(days=30), bot="other")
    assert jobs.prune("shop", now=NOW) == sorted([old_done.id, old_failed.id])
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == [f"{recent.id}.csv", f"{recent.id}.json"]
    assert (tmp_path / "other" / f"{other_bot.id}.csv").is_file()


def test_a_job_this_worker_is_still_running_is_never_pruned(tmp_path):
    jobs = ExportJobs(tmp_path, retention=timedelta(hours=1))
    job = saved(jobs, "e", RUNNING, None)
    jobs._jobs[("shop", job.id)] = job   # as start() registers it while its thread writes
    assert jobs.prune("shop", now=NOW + timedelta(days=365)) == []


def test_a_job_a_stopped_worker_left_unfinished_is_pruned_by_its_creation_time(tmp_path):
    jobs = ExportJobs(tmp_path, retention=timedelta(hours=1))
    job = saved(jobs, "f", RUNNING, None)
    assert jobs.prune("shop", now=datetime.fromisoformat(job.created_at) + timedelta(minutes=59)) == []
    assert jobs.prune("shop", now=datetime.fromisoformat(job.created_at) + timedelta(minutes=61)) == [job.id]
