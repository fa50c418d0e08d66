"""The Users section over HTTP: search with filters, one user's detail, sessions and transcript."""

from datetime import timedelta
from typing import Annotated, Any, Callable

from fastapi import Depends, FastAPI
from pydantic import ValidationError

from pipeline.bots import Bot
from pipeline.services import Services
from queries import users as user_queries
from queries.columns import FilterError, describe as describe_columns
from schemas.events import describe
from schemas.filters import SearchRequest


def add_user_routes(api: FastAPI, services: Services, authorized_bot: Callable[..., Bot],
                    require: Callable[[Any], Any], error: type[Exception]) -> None:
    Authorized = Annotated[Bot, Depends(authorized_bot)]

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import asyncio
        client = require(services.clickhouse)
        try:
            return await asyncio.to_thread(fn, client, *args, **kwargs)
        except FilterError as e:
            raise error(400, "invalid_filter", [f"{e.location}: {e.message}"]) from None
        except ValidationError as e:
            raise error(400, "invalid_filter", describe(e)) from None

    @api.get("/v1/columns", tags=["users"], summary="Columns a filter, sort or selection may use, with functions")
    async def columns() -> list[dict]:
        return describe_columns()

    @api.post("/v1/bots/{bot_id}/users/search", tags=["users"],
              summary="Users matching a filter: a page (keyset cursor), chosen columns, sort, and the total count")
    async def search(bot: Authorized, request: SearchRequest) -> dict:
        return await run(user_queries.search, bot.bot_id, request)

    @api.get("/v1/bots/{bot_id}/users/{user_id}", tags=["users"],
             summary="One user: profile, metrics, custom attributes, tags, segments, last session, sentiment history")
    async def user(bot: Authorized, user_id: str) -> dict:
        found = await run(user_queries.get_user, bot.bot_id, user_id)
        if found is None:
            raise error(404, "not_found", f"no user {user_id!r} in bot {bot.bot_id!r}")
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
