"""Run-time bot settings: the body of GET/PUT /v1/bots/{bot_id}/settings and the value of their topic."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inactivity_minutes: float = Field(gt=0, le=24 * 60, description="session window in minutes (default 10)")
