"""A bot's run-time settings over HTTP: every worker applies a change to events processed afterwards."""

from __future__ import annotations

from fastapi import APIRouter

from pipeline.http.deps import Authorized, ServicesDep
from schemas.bot_settings import BotSettings

router = APIRouter()


@router.get("/v1/bots/{bot_id}/settings", response_model=BotSettings, summary="The bot's run-time settings")
async def get_settings(bot: Authorized, services: ServicesDep) -> BotSettings:
    return BotSettings(inactivity_minutes=services.window_for(bot.bot_id).total_seconds() / 60)


@router.put("/v1/bots/{bot_id}/settings", response_model=BotSettings,
            summary="Change the inactivity window; every worker applies it to events processed afterwards")
async def put_settings(bot: Authorized, services: ServicesDep, values: BotSettings) -> BotSettings:
    await services.publisher.bot_settings(bot.bot_id, values.model_dump())
    services.apply_bot_settings(bot.bot_id, values)
    return values
