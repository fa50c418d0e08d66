"""The Users section over HTTP: search with filters, one user's detail, sessions and transcript, actions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header

from pipeline.core.actions import action_id, events_for
from pipeline.http.deps import Authorized, ServicesDep, publish_events, run_store
from pipeline.http.errors import ApiError
from queries import users as user_queries
from queries.columns import describe as describe_columns
from schemas.actions import ActionRequest
from schemas.events import utc_now
from schemas.filters import CountRequest, SearchRequest

router = APIRouter(tags=["users"])


@router.get("/v1/columns", summary="Columns a filter, sort or selection may use, with functions")
async def columns() -> list[dict]:
    return describe_columns()


@router.post("/v1/bots/{bot_id}/users/search",
             summary="Users matching a filter: a page (keyset cursor), chosen columns, sort, and the total count")
async def search(bot: Authorized, services: ServicesDep, request: SearchRequest) -> dict:
    return await run_store(services, user_queries.search, bot.bot_id, request,
                           segments=services.segments.dynamic_filters(bot.bot_id))


@router.post("/v1/bots/{bot_id}/users/count", summary="How many users match a filter")
async def count(bot: Authorized, services: ServicesDep, request: CountRequest) -> dict:
    [total] = await run_store(services, user_queries.count_matching, bot.bot_id, [request.filter],
                              segments=services.segments.dynamic_filters(bot.bot_id))
    return {"total": total}


@router.post("/v1/bots/{bot_id}/users/actions",
             summary="Tag, attribute, segment, edit, ban or delete users (ids or a filter); answers how many")
async def act(bot: Authorized, services: ServicesDep, request: ActionRequest,
              idempotency_key: Annotated[str | None, Header()] = None) -> dict:
    defined = services.segments.get(bot.bot_id, request.segment or "")
    if request.action == "add_to_segment" and defined is not None and defined.kind == "dynamic":
        raise ApiError(400, "dynamic_segment", f"segment {defined.segment_id!r} is dynamic: its members are the "
                                               f"users matching its filter, so users cannot be added to it")
    if request.user_ids is not None:
        chosen = await run_store(services, user_queries.existing_users, bot.bot_id, request.user_ids)
    else:
        chosen = await run_store(services, user_queries.matching_users, bot.bot_id, request.filter,
                                 segments=services.segments.dynamic_filters(bot.bot_id))
    action = action_id(idempotency_key, f"{uuid.uuid4()}")
    await publish_events(services, events_for(request, bot.bot_id, chosen, at=utc_now(), action=action))
    return {"action": request.action, "users": len(chosen), "action_id": action}


@router.get("/v1/bots/{bot_id}/users/{user_id}",
            summary="One user: profile, metrics, custom attributes, tags, segments, last session, sentiment history")
async def user(bot: Authorized, services: ServicesDep, user_id: str) -> dict:
    found = await run_store(services, user_queries.get_user, bot.bot_id, user_id)
    if found is None:
        raise ApiError.not_found("user", user_id, bot.bot_id)
    found["sentiment_history"] = await run_store(services, user_queries.sentiment_history, bot.bot_id, user_id)
    return found


@router.get("/v1/bots/{bot_id}/users/{user_id}/sessions", summary="The user's sessions, oldest first")
async def sessions(bot: Authorized, services: ServicesDep, user_id: str) -> dict:
    return {"sessions": await run_store(services, user_queries.sessions, bot.bot_id, user_id)}


@router.get("/v1/bots/{bot_id}/users/{user_id}/transcript",
            summary="Every message of the user with its sentiment, grouped by session")
async def transcript(bot: Authorized, services: ServicesDep, user_id: str) -> dict:
    window = services.window_for(bot.bot_id)
    return {"sessions": await run_store(services, user_queries.transcript, bot.bot_id, user_id, window=window)}
