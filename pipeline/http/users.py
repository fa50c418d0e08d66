"""The Users section over HTTP: search with filters, one user's detail, sessions and transcript."""

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated, Any, Awaitable, Callable

from fastapi import Depends, FastAPI, Header
from pydantic import ValidationError

from pipeline.http.errors import ApiError
from pipeline.core.actions import action_id, events_for
from pipeline.core.bots import Bot
from pipeline.services import Services
from queries import users as user_queries
from queries.columns import FilterError, describe as describe_columns
from schemas.actions import ActionRequest
from schemas.events import describe, utc_now
from schemas.filters import CountRequest, SearchRequest


def store_runner(services: Services, require: Callable[[Any], Any],
                 error: type[ApiError]) -> Callable[..., Awaitable[Any]]:
    """`run(fn, *args)`: fn(client, *args) in a thread; a filter the catalogue refuses is a 400."""
    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        client = require(services.clickhouse)
        try:
            return await asyncio.to_thread(fn, client, *args, **kwargs)
        except FilterError as e:
            raise error(400, "invalid_filter", [f"{e.location}: {e.message}"]) from None
        except ValidationError as e:
            raise error(400, "invalid_filter", describe(e)) from None

    return run


async def publish_events(services: Services, events: list) -> None:
    """In requests of 1000; Kafka down is a 503 (PublishUnavailable), retried with the same Idempotency-Key."""
    for start in range(0, len(events), 1000):
        await services.publisher.publish(events[start:start + 1000])


def add_user_routes(api: FastAPI, services: Services, authorized_bot: Callable[..., Bot],
                    require: Callable[[Any], Any], error: type[ApiError]) -> None:
    Authorized = Annotated[Bot, Depends(authorized_bot)]
    run = store_runner(services, require, error)

    @api.get("/v1/columns", tags=["users"], summary="Columns a filter, sort or selection may use, with functions")
    async def columns() -> list[dict]:
        return describe_columns()

    @api.post("/v1/bots/{bot_id}/users/search", tags=["users"],
              summary="Users matching a filter: a page (keyset cursor), chosen columns, sort, and the total count")
    async def search(bot: Authorized, request: SearchRequest) -> dict:
        return await run(user_queries.search, bot.bot_id, request,
                         segments=services.segments.dynamic_filters(bot.bot_id))

    @api.post("/v1/bots/{bot_id}/users/count", tags=["users"], summary="How many users match a filter")
    async def count(bot: Authorized, request: CountRequest) -> dict:
        [total] = await run(user_queries.count_matching, bot.bot_id, [request.filter],
                            segments=services.segments.dynamic_filters(bot.bot_id))
        return {"total": total}

    @api.post("/v1/bots/{bot_id}/users/actions", tags=["users"],
              summary="Tag, attribute, segment, edit, ban or delete users (ids or a filter); answers how many")
    async def act(bot: Authorized, request: ActionRequest,
                  idempotency_key: Annotated[str | None, Header()] = None) -> dict:
        defined = services.segments.get(bot.bot_id, request.segment or "")
        if request.action == "add_to_segment" and defined is not None and defined.kind == "dynamic":
            raise error(400, "dynamic_segment", f"segment {defined.segment_id!r} is dynamic: its members are the "
                                                f"users matching its filter, so users cannot be added to it")
        if request.user_ids is not None:
            chosen = await run(user_queries.existing_users, bot.bot_id, request.user_ids)
        else:
            chosen = await run(user_queries.matching_users, bot.bot_id, request.filter,
                               segments=services.segments.dynamic_filters(bot.bot_id))
        at = utc_now()
        action = action_id(idempotency_key, f"{uuid.uuid4()}")
        await publish_events(services, events_for(request, bot.bot_id, chosen, at=at, action=action))
        return {"action": request.action, "users": len(chosen), "action_id": action}

    @api.get("/v1/bots/{bot_id}/users/{user_id}", tags=["users"],
             summary="One user: profile, metrics, custom attributes, tags, segments, last session, sentiment history")
    async def user(bot: Authorized, user_id: str) -> dict:
        found = await run(user_queries.get_user, bot.bot_id, user_id)
        if found is None:
            raise error.not_found("user", user_id, bot.bot_id)
        found["sentiment_history"] = await run(user_queries.sentiment_history, bot.bot_id, user_id)
        return found

    @api.get("/v1/bots/{bot_id}/users/{user_id}/sessions", tags=["users"], summary="The user's sessions, oldest first")
    async def sessions(bot: Authorized, user_id: str) -> dict:
        return {"sessions": await run(user_queries.sessions, bot.bot_id, user_id)}

    @api.get("/v1/bots/{bot_id}/users/{user_id}/transcript", tags=["users"],
             summary="Every message of the user with its sentiment, grouped by session")
    async def transcript(bot: Authorized, user_id: str) -> dict:
        window: timedelta = services.window_for(bot.bot_id)
        return {"sessions": await run(user_queries.transcript, bot.bot_id, user_id, window=window)}
