"""CSV exports over HTTP: small ones stream straight back, large ones run as a job with a status URL.

The CSV is produced by a thread of its own (ClickHouse reads block) and handed to the response over a
bounded queue, so a slow download pauses the read instead of filling memory.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, AsyncIterator, Callable, Iterator
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from consumers.export_jobs import DONE, FAILED, ExportJob, ExportJobs
from consumers.exports import count_users, stream_csv
from pipeline.core.bots import Bot
from pipeline.http.deps import Authorized, ServicesDep, require
from pipeline.http.errors import ApiError
from pipeline.services import Services
from queries.columns import FilterError
from queries.export import compile_export
from schemas.exports import DIRECT_LIMIT, ExportRequest

CSV_TYPE = "text/csv; charset=utf-8"
STALL_SECONDS = 600.0   # a reader that takes nothing for this long is gone: stop reading ClickHouse
_END = object()
router = APIRouter(tags=["exports"])


class ThreadedChunks:
    """Runs a blocking chunk iterator in a thread; at most `depth` chunks wait between it and the reader."""

    def __init__(self, chunks: Callable[[], Iterator[bytes]], depth: int = 4):
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._slots = threading.Semaphore(depth)
        self._stopped = threading.Event()
        threading.Thread(target=self._produce, args=(chunks,), daemon=True, name="csv-stream").start()

    def _produce(self, chunks: Callable[[], Iterator[bytes]]) -> None:
        try:
            iterator = chunks()
            try:
                for chunk in iterator:
                    if not self._wait_for_room():
                        return
                    self._hand_over(chunk)
            finally:
                close = getattr(iterator, "close", None)   # a generator: ends the ClickHouse read, also
                if close is not None:                      # when the reader went away
                    close()
            self._hand_over(_END)
        except Exception as e:  # noqa: BLE001 - raised again in the reader
            self._hand_over(e)

    def _wait_for_room(self) -> bool:
        deadline = time.monotonic() + STALL_SECONDS
        while not self._slots.acquire(timeout=0.5):
            if self._stopped.is_set() or time.monotonic() > deadline:
                return False
        return not self._stopped.is_set()

    def _hand_over(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:   # the event loop closed: nobody is reading
            self._stopped.set()

    async def next(self) -> bytes | None:
        """The next chunk, None at the end; the producer's error is raised here."""
        item = await self._queue.get()
        if item is _END:
            return None
        if isinstance(item, Exception):
            raise item
        self._slots.release()
        return item

    def stop(self) -> None:
        self._stopped.set()


def export_jobs(services: Services) -> ExportJobs:
    """The job registry of one app (kept in this worker's memory and under CHATLENS_DATA_DIR/exports)."""
    return ExportJobs(services.settings.data_dir / "exports", direct_limit=DIRECT_LIMIT,
                      retention=timedelta(hours=services.settings.export_retention_hours),
                      csv_guard=services.settings.csv_formula_guard)


def get_jobs(request: Request) -> ExportJobs:
    """The registry create_api made for this app: jobs run in this worker, so another app has other jobs."""
    return request.app.state.exports


Jobs = Annotated[ExportJobs, Depends(get_jobs)]


def described(job: ExportJob) -> dict[str, Any]:
    base = f"/v1/bots/{quote(job.bot_id, safe='')}/exports/{job.id}"
    return {**job.describe(), "status_url": base,
            "download_url": f"{base}/download" if job.status == DONE else None}


def found(jobs: ExportJobs, bot: Bot, export_id: str) -> ExportJob:
    job = jobs.get(bot.bot_id, export_id)
    if job is None:
        raise ApiError.not_found("export", export_id, bot.bot_id)
    return job


@router.post("/v1/bots/{bot_id}/exports",
             summary="Export users as CSV: small exports stream back at once (200), large ones become a job (202)",
             responses={200: {"content": {"text/csv": {}}, "description": "the CSV, header row first"},
                        202: {"description": "a job: poll status_url, then fetch download_url"}})
async def create_export(bot: Authorized, jobs: Jobs, services: ServicesDep, request: ExportRequest):
    try:
        query = compile_export(bot.bot_id, request.selection, request.columns, now=datetime.now(UTC),
                               segments=services.segments.dynamic_filters(bot.bot_id))
    except FilterError as e:
        raise ApiError(400, "invalid_export", [f"{e.location}: {e.message}"]) from None
    client = require(services.clickhouse)
    total = await asyncio.to_thread(count_users, client, query)
    if not jobs.is_direct(total, request.direct_limit):
        job = jobs.start(client, bot.bot_id, query, total)
        body = described(job)
        return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})
    chunks = ThreadedChunks(lambda: stream_csv(client, query, guard=services.settings.csv_formula_guard))
    try:
        header = await chunks.next()   # a failing query answers 500 here, before any CSV is sent
    except Exception as e:  # noqa: BLE001
        raise ApiError(500, "export_failed", f"{type(e).__name__}: {str(e)[:500]}") from None

    async def body() -> AsyncIterator[bytes]:
        try:
            chunk = header
            while chunk is not None:
                yield chunk
                chunk = await chunks.next()
        finally:
            chunks.stop()

    name = f"{bot.bot_id}-users-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"
    return StreamingResponse(body(), media_type=CSV_TYPE, headers={
        "Content-Disposition": f'attachment; filename="{_ascii(name)}"', "X-Export-Rows": str(total)})


@router.get("/v1/bots/{bot_id}/exports", summary="The bot's export jobs, newest first")
async def list_exports(bot: Authorized, jobs: Jobs) -> dict:
    return {"exports": [described(job) for job in await asyncio.to_thread(jobs.list, bot.bot_id)]}


@router.get("/v1/bots/{bot_id}/exports/{export_id}",
            summary="An export job: status (queued, running, done, failed), rows written of total, download_url")
async def export_status(bot: Authorized, jobs: Jobs, export_id: str) -> dict:
    return described(found(jobs, bot, export_id))


@router.get("/v1/bots/{bot_id}/exports/{export_id}/download", summary="A finished export's CSV",
            responses={200: {"content": {"text/csv": {}}}, 409: {"description": "not finished (or failed)"}})
async def download_export(bot: Authorized, jobs: Jobs, export_id: str):
    job = found(jobs, bot, export_id)
    path = jobs.file(bot.bot_id, export_id)
    if path is None:
        detail = (f"the export failed: {job.error}" if job.status == FAILED else
                  f"the export is {job.status} ({job.rows_written} of {job.total_rows} rows); "
                  f"poll /v1/bots/{bot.bot_id}/exports/{export_id}")
        raise ApiError(409, "not_ready", detail)
    return FileResponse(path, media_type=CSV_TYPE, filename=f"{bot.bot_id}-users-{export_id[:8]}.csv",
                        headers={"X-Export-Rows": str(job.rows_written)})


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
