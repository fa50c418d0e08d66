"""The raw events the store holds, as they were ingested (served by the worker that holds the store)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from pipeline.http.deps import Authorized, ServicesDep, require

router = APIRouter()


@router.get("/v1/bots/{bot_id}/events", summary="Stored raw events of a bot (or one user), oldest first")
async def list_events(bot: Authorized, services: ServicesDep, user_id: str = "",
                      limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict:
    events = await asyncio.to_thread(require(services.store).list, bot.bot_id, user_id, limit)
    return {"events": [e.model_dump(mode="json") for e in events]}
