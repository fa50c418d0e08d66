"""Scheduled segment exports over HTTP: list, create, delete, run now, and the history of runs.

Definitions are written to their compacted topic through the publisher (Kafka down: 503) and applied to
this worker's registry at once, so the writer reads its own write; the other workers follow the topic.
The history lives in ClickHouse, so it is read on a worker that holds the store.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from consumers.schedules import RunHistory
from pipeline.core.bots import Bot
from pipeline.core.schedules import Schedule, ScheduleError, ScheduleRequest, manual_run, new_schedule
from pipeline.http.deps import Authorized, ServicesDep, require
from pipeline.http.errors import ApiError
from pipeline.services import Services
from schemas.events import describe, utc_now

_CREATE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": ScheduleRequest.model_json_schema(),
    "example": {"segment": "newsletter", "cron": "0 6 * * MON", "columns": ["user_id", "name", "email"],
                "destination": "weekly/newsletter"}}}}}

router = APIRouter(tags=["schedules"])


def found(services: Services, bot: Bot, schedule_id: str) -> Schedule:
    schedule = services.schedules.get(bot.bot_id, schedule_id)
    if schedule is None:
        raise ApiError.not_found("schedule", schedule_id, bot.bot_id)
    return schedule


@router.get("/v1/bots/{bot_id}/schedules",
            summary="The bot's export schedules, each with its latest run (null on a worker without the store)")
async def list_schedules(bot: Authorized, services: ServicesDep) -> dict:
    latest = {}
    if services.clickhouse is not None:
        latest = await asyncio.to_thread(RunHistory(services.clickhouse).latest, bot.bot_id)
    return {"schedules": [{**s.to_json(), "latest_run": latest.get(s.schedule_id)}
                          for s in services.schedules.for_bot(bot.bot_id)]}


@router.post("/v1/bots/{bot_id}/schedules", status_code=201, openapi_extra=_CREATE_BODY,
             summary="Export a segment on a cron schedule (UTC) to a directory under CHATLENS_SCHEDULE_DIR",
             responses={400: {"description": "a field is invalid; each problem names it"}})
async def create_schedule(bot: Authorized, services: ServicesDep,
                          body: Annotated[Any, Body(include_in_schema=False)] = None) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_schedule", [f"body: expected a JSON object with segment and cron "
                                                 f"(got {type(body).__name__})"])
    try:
        request = ScheduleRequest.model_validate(body)
        schedule = new_schedule(bot.bot_id, request, root=services.settings.schedule_dir, now=utc_now())
    except ValidationError as e:
        raise ApiError(400, "invalid_schedule", describe(e)) from None
    except ScheduleError as e:
        raise ApiError(400, "invalid_schedule", e.problems) from None
    await services.publisher.schedule(bot.bot_id, schedule.schedule_id, schedule.to_json())
    services.schedules.apply((schedule.key, schedule))
    return schedule.to_json()


@router.delete("/v1/bots/{bot_id}/schedules/{schedule_id}",
               summary="Delete a schedule (its files and history stay)")
async def delete_schedule(bot: Authorized, services: ServicesDep, schedule_id: str) -> dict:
    schedule = found(services, bot, schedule_id)
    await services.publisher.schedule(bot.bot_id, schedule.schedule_id, None)
    services.schedules.apply((schedule.key, None))
    return {"schedule_id": schedule.schedule_id, "deleted": True}


@router.post("/v1/bots/{bot_id}/schedules/{schedule_id}/run", status_code=202,
             summary="Run a schedule now, outside its cron times; follow it in …/runs by its run_id")
async def run_now(bot: Authorized, services: ServicesDep, schedule_id: str) -> JSONResponse:
    request = manual_run(found(services, bot, schedule_id), utc_now())
    await services.publisher.schedule_run(schedule_id, request.to_json())
    body = {"run_id": request.run_id, "schedule_id": schedule_id,
            "scheduled_for": request.to_json()["scheduled_for"], "file": request.file}
    return JSONResponse(body, status_code=202)


@router.get("/v1/bots/{bot_id}/schedules/{schedule_id}/runs",
            summary="The schedule's runs, newest first: one entry per attempt (running, succeeded or failed)")
async def runs(bot: Authorized, services: ServicesDep, schedule_id: str,
               limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict:
    history = RunHistory(require(services.clickhouse))
    attempts = await asyncio.to_thread(history.history, bot.bot_id, schedule_id, limit)
    if not attempts and services.schedules.get(bot.bot_id, schedule_id) is None:
        found(services, bot, schedule_id)
    return {"runs": attempts}
