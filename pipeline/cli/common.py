"""What the command groups share: settings, the bots file, the worker's address and keys, calls, tables."""

from __future__ import annotations

import json

import click
import httpx
from rich.console import Console
from rich.table import Table

from pipeline.settings import Settings, load_settings

console = Console()


def load_bot(bot_id: str):
    """The settings and the named bot of CHATLENS_BOTS_FILE, or a clear error."""
    from pipeline.core.bots import BotConfigError, load_bots  # lazy: the event schema takes 0.2 s to build
    settings = current_settings()
    try:
        bot = load_bots(settings.bots_file).get(bot_id)
    except BotConfigError as e:
        raise click.ClickException(str(e)) from None
    if bot is None:
        raise click.ClickException(f"no bot {bot_id!r} in {settings.bots_file}")
    return settings, bot


def where_filter(conditions: tuple[str, ...], match_any: bool) -> dict:
    """--where conditions as the API's filter group."""
    from pipeline.cli.where import WhereError, parse_where  # lazy: the column catalogue needs the event schema
    from queries.columns import FilterError
    try:
        filters = [parse_where(c).model_dump() for c in conditions]
    except (WhereError, FilterError) as e:
        raise click.BadParameter(str(e), param_hint="--where") from None
    return {"match": "any" if match_any else "all", "filters": filters}


def local_broker_error() -> type[Exception]:
    """What the local broker raises when it cannot start (BrokerError), imported only when needed."""
    from pipeline.kafka.broker import BrokerError  # lazy: kafka-python takes 0.2 s of every command's start
    return BrokerError


def current_settings() -> Settings:
    try:
        return load_settings()
    except Exception as e:  # pydantic's message names the variable and the problem
        raise click.ClickException(f"invalid configuration:\n{e}") from None


def local_broker(settings: Settings):
    """The local broker of these settings (LocalBroker)."""
    from pipeline.kafka.broker import LocalBroker  # lazy: as above
    return LocalBroker(settings.broker_dir, port=settings.kafka_port, partitions=settings.partitions)


def admin_client(settings: Settings) -> tuple[str, dict[str, str]]:
    if not settings.admin_key:
        raise click.ClickException("set CHATLENS_ADMIN_KEY (the same as the worker's)")
    return (f"http://{settings.http_host}:{settings.http_port}",
            {"Authorization": f"Bearer {settings.admin_key}"})


def bot_client(bot_id: str) -> tuple[str, dict[str, str]]:
    settings, bot = load_bot(bot_id)
    return f"http://{settings.http_host}:{settings.http_port}", {"Authorization": f"Bearer {bot.api_key}"}


def call(method: str, url: str, headers: dict[str, str], **kwargs) -> dict:
    try:
        response = httpx.request(method, url, headers=headers, timeout=60, **kwargs)
    except httpx.HTTPError as e:
        raise click.ClickException(f"cannot reach the worker at {url}: {e}") from None
    if not response.is_success:   # 200, 201 (created) and 202 (accepted) carry the answer
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise click.ClickException(f"{response.status_code}: {detail}")
    return response.json()


def search_users(bot_id: str, request: dict, as_json: bool) -> None:
    """Ask the worker for a page of users and print it as a table (or the API's JSON)."""
    base, headers = bot_client(bot_id)
    page = call("POST", f"{base}/v1/bots/{bot_id}/users/search", headers, json=request)
    if as_json:
        click.echo(json.dumps(page, ensure_ascii=False))
        return
    names = list(page["users"][0]) if page["users"] else ["user_id", *(request.get("columns") or [])]
    table = Table(*names)
    for user in page["users"]:
        table.add_row(*("" if user.get(n) is None else str(user.get(n)) for n in names))
    console.print(table)
    console.print(f"{len(page['users'])} shown of {page['total']} matching"
                  + (" (more: use --limit or the API's cursor)" if page.get("next_cursor") else ""))
