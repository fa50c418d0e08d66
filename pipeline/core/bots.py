"""Bot configuration: the TOML file named by CHATLENS_BOTS_FILE, a [bots.<bot_id>] table per bot.

The inactivity window can change at run time; the file holds its starting value.
"""

from __future__ import annotations

import hmac
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.events import CHANNELS, describe


class TelegramSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_token: str = Field(min_length=1)


class MessengerSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    app_secret: str = Field(min_length=1)
    verify_token: str = Field(min_length=1)


class LiveChatSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_key: str = Field(min_length=1)


class SlackSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    signing_secret: str = Field(min_length=1)


class WebSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    signing_key: str = Field(min_length=1)


class Bot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bot_id: str
    api_key: str = Field(min_length=16, description="Bearer key for this bot's API and Users page")
    inactivity_minutes: float = Field(10, gt=0, le=24 * 60)
    telegram: TelegramSecrets | None = None
    messenger: MessengerSecrets | None = None
    livechat: LiveChatSecrets | None = None
    slack: SlackSecrets | None = None
    web: WebSecrets | None = None

    def accepts_key(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode(), self.api_key.encode())

    def channel_secrets(self, channel: str) -> dict[str, str] | None:
        secrets = getattr(self, channel) if channel in CHANNELS else None
        return secrets.model_dump() if secrets else None


class BotConfigError(ValueError):
    pass


def parse_bots(text: str, source: str = "bots file") -> dict[str, Bot]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise BotConfigError(f"{source}: not valid TOML ({e})") from None
    tables = data.get("bots")
    if not isinstance(tables, dict) or not tables:
        raise BotConfigError(f"{source}: expected at least one [bots.<bot_id>] table")
    bots = {}
    for bot_id, table in tables.items():
        if not isinstance(table, dict):
            raise BotConfigError(f"{source}: bots.{bot_id} must be a table")
        try:
            bots[bot_id] = Bot(bot_id=bot_id, **table)
        except ValidationError as e:
            raise BotConfigError(f"{source}: " + "; ".join(f"bots.{bot_id}.{p}" for p in describe(e))) from None
    return bots


def load_bots(path: Path) -> dict[str, Bot]:
    try:
        text = path.read_text()
    except OSError as e:
        raise BotConfigError(f"cannot read CHATLENS_BOTS_FILE {str(path)!r}: {e.strerror}") from None
    return parse_bots(text, str(path))
