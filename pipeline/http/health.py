"""/health: Kafka, ClickHouse, sinks, agents and stream progress (lag, and how far behind the store is);
503 naming what is wrong."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from pipeline.http.deps import ServicesDep
from pipeline.kafka.publisher import PublishUnavailable

router = APIRouter()


@router.get("/health", summary="Kafka, ClickHouse, sinks, agents and stream progress; 503 naming what is wrong")
async def health(services: ServicesDep) -> JSONResponse:
    report: dict[str, Any] = {}
    try:
        await services.publisher.ping()
        report["kafka"] = {"ok": True, "bootstrap": services.settings.bootstrap}
    except PublishUnavailable as e:
        report["kafka"] = {"ok": False, "error": str(e)}
    if services.role == "ingest":
        report["clickhouse"] = {"ok": True, "detail": "an ingest process holds no store"}
    elif services.store is None:
        report["clickhouse"] = {"ok": True, "detail": "CHATLENS_SINK=false: this worker holds no store"}
    else:
        try:
            await asyncio.wait_for(asyncio.to_thread(services.store.count, "__health__"), 5)
            report["clickhouse"] = {"ok": True, "url": redacted(services.settings.clickhouse_dsn)}
        except Exception as e:  # noqa: BLE001 - reported, not raised
            report["clickhouse"] = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
    report["sinks"] = {name: asdict(status) for name, status in services.sinks.items()}
    report["agents"] = {name: asdict(status) for name, status in services.agents.items()}
    if services.progress is not None:
        report["stream"] = services.progress.report(time.monotonic())
    problems = [name for name in ("kafka", "clickhouse") if not report[name]["ok"]]
    problems += [f"sink {name}: {s.last_error}" for name, s in services.sinks.items() if not s.ok]
    problems += [f"{'crashed' if s.crashed else 'failing'} {name}: {s.last_error}"
                 for name, s in services.agents.items() if not s.ok]
    if services.role == "worker":  # an ingest process reports the stream's lag; it takes events all the same
        problems += [f"not advancing: {name}" for name in report.get("stream", {}).get("stalled", [])]
    status = {"status": "degraded", "problems": problems} if problems else {"status": "ok"}
    report["process"] = {"role": services.role, "pid": os.getpid()}
    return JSONResponse({**status, **report}, status_code=503 if problems else 200)


def redacted(dsn: str) -> str:
    """A DSN without its credentials."""
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
