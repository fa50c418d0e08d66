"""Admin routes (the admin key): read-only SQL for analysts, and the rebuild of the projections.

Embedded chDB allows one engine per process, so these are the only way in to the worker's store.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from consumers.rebuild import rebuild as run_rebuild
from pipeline.http.deps import ServicesDep, admin, require
from pipeline.http.errors import ApiError

router = APIRouter(dependencies=[Depends(admin)])
SQL_MAX_RESULT_BYTES = 256 * 1024 * 1024


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, examples=["SELECT count() FROM events"])
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="values for {name:Type} placeholders in the SQL")


@router.post("/v1/sql", summary="Run read-only SQL on the store (analysts; embedded chDB is reachable only here)",
             responses={400: {"description": "the database's error, a timeout or a result over the row limit"},
                        429: {"description": "CHATLENS_SQL_CONCURRENCY queries are running already"}})
async def sql(request: SqlRequest, services: ServicesDep) -> dict:
    if services.clickhouse is None:
        raise ApiError(501, "not_available", "no ClickHouse client in this process")

    limits = services.settings
    # readonly=1 also forbids a query's own SETTINGS from lifting these
    settings = {"readonly": 1, "max_execution_time": limits.sql_timeout_seconds, "max_result_rows": limits.sql_max_rows,
                "max_result_bytes": SQL_MAX_RESULT_BYTES, "result_overflow_mode": "throw"}

    def run() -> tuple[list[str], list]:
        client = services.clickhouse
        result = client.query(request.sql, parameters=request.parameters, settings=settings)
        names = list(result.column_names)
        if not names:  # chDB names no columns for an empty result; ask ClickHouse what they would be
            inner = request.sql.strip().rstrip(";")
            described = client.query(f"DESCRIBE TABLE ({inner}\n)", parameters=request.parameters,
                                     settings=settings)
            names = [row[0] for row in described.result_rows]
        return names, result.result_rows

    if services.sql_slots is None:
        services.sql_slots = asyncio.Semaphore(limits.sql_concurrency)
    if services.sql_slots.locked():
        raise ApiError(429, "busy", f"{limits.sql_concurrency} SQL queries are running; try again when one is done",
                       {"Retry-After": "5"})
    async with services.sql_slots:
        try:
            names, rows = await asyncio.to_thread(run)
        except Exception as e:  # noqa: BLE001 - the database's message is the useful answer
            raise ApiError(400, "sql_error", str(e)[:2000]) from None
    return {"columns": names, "rows": [list(map(jsonable, r)) for r in rows]}


@router.post("/v1/admin/rebuild",
             summary="Recompute users, sessions and messages from the raw events; NDJSON progress, then a report")
async def rebuild(services: ServicesDep, apply: bool = False, bot: str = "") -> StreamingResponse:
    client = require(services.clickhouse)
    loop, queue = asyncio.get_running_loop(), asyncio.Queue()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, {"done": done, "total": total})

    def work() -> None:
        try:
            report = run_rebuild(client, window_for=services.window_for, grace=services.grace, apply=apply,
                                 bot_id=bot, progress=progress)
            loop.call_soon_threadsafe(queue.put_nowait, {"report": asdict(report)})
        except Exception as e:  # noqa: BLE001 - reported to the caller
            loop.call_soon_threadsafe(queue.put_nowait, {"error": f"{type(e).__name__}: {e}"})

    async def lines():
        task = asyncio.create_task(asyncio.to_thread(work))
        while True:
            item = await queue.get()
            yield json.dumps(item) + "\n"
            if "report" in item or "error" in item:
                break
        await task

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def jsonable(value: Any) -> Any:
    if isinstance(value, int | float | str | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):  # the schema keeps every time in UTC; chDB hands them back naive
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
