"""`chatlens segments`: list, create, rename, re-filter, delete segments and show their members.

Talks to the running worker over HTTP with the bot's API key, like `chatlens users`.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import click
from rich.table import Table
from pipeline.cli.common import bot_client, call, console, search_users, where_filter
from schemas.segments import members_filter

BOT = click.option("--bot", "bot_id", default="demo", show_default=True, help="bot of CHATLENS_BOTS_FILE")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
WHERE = click.option("--where", "conditions", multiple=True, metavar="'COLUMN FUNCTION [VALUE]'",
                     help="a condition of the saved filter, as in `users list`, e.g. 'attributes.plan = pro', "
                          "'sessions > 3', 'segments has newsletter'; repeat for more")
ANY = click.option("--any", "match_any", is_flag=True, help="match any --where condition instead of all")


def _request(method: str, bot_id: str, path: str = "", **kwargs) -> dict:
    base, headers = bot_client(bot_id)
    return call(method, f"{base}/v1/bots/{quote(bot_id, safe='')}/segments{path}", headers, **kwargs)


def _path(segment_id: str) -> str:
    return "/" + quote(segment_id, safe="")


def _members(segment: dict) -> str:
    return "?" if segment["members"] is None else str(segment["members"])


def _echo(segment: dict, as_json: bool, verb: str) -> None:
    if as_json:
        click.echo(json.dumps(segment, ensure_ascii=False))
    else:
        console.print(f"{verb} {segment['kind']} segment {segment['segment_id']!r} ({segment['name']}): "
                      f"{_members(segment)} member(s)")


@click.group()
def segments() -> None:
    """Segments of a bot: static ones (members added with `users add-to-segment ID`) and dynamic ones
    (a saved filter, evaluated whenever asked). Any filter can name them: --where 'segments has ID'.
    """


@segments.command("list")
@BOT
@AS_JSON
def list_segments(bot_id: str, as_json: bool) -> None:
    """Every segment with its kind and current member count (also ids users carry that nothing defines)."""
    found = _request("GET", bot_id)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False))
        return
    table = Table("id", "name", "kind", "members", "filter")
    for segment in found["segments"]:
        table.add_row(segment["segment_id"], segment["name"], segment["kind"], _members(segment),
                      json.dumps(segment["filter"], ensure_ascii=False) if segment["filter"] else "")
    console.print(table if found["segments"] else f"bot {bot_id!r} has no segments yet")


@segments.command("create")
@click.argument("name")
@click.option("--dynamic", is_flag=True, help="a saved filter (give it with --where) instead of a static segment")
@WHERE
@ANY
@BOT
@AS_JSON
def create(name: str, dynamic: bool, conditions: tuple[str, ...], match_any: bool, bot_id: str,
           as_json: bool) -> None:
    """Create a segment called NAME; its id is made from the name (e.g. 'Pro users' -> pro-users).

    \b
    Examples:
      chatlens segments create Newsletter
      chatlens segments create 'Pro in Poland' --dynamic --where 'attributes.plan = pro' --where 'country = PL'
    """
    if conditions and not dynamic:
        raise click.UsageError("--where makes a saved filter: add --dynamic")
    if dynamic and not conditions:
        raise click.UsageError("a dynamic segment needs its filter: give --where (repeatable)")
    body: dict = {"name": name, "kind": "dynamic" if dynamic else "static"}
    if dynamic:
        body["filter"] = where_filter(conditions, match_any)
    _echo(_request("POST", bot_id, json=body), as_json, "created")


@segments.command("rename")
@click.argument("segment_id", metavar="ID")
@click.argument("name")
@BOT
@AS_JSON
def rename(segment_id: str, name: str, bot_id: str, as_json: bool) -> None:
    """Give segment ID a new NAME; its id and its members stay."""
    _echo(_request("PATCH", bot_id, _path(segment_id), json={"name": name}), as_json, "renamed")


@segments.command("set-filter")
@click.argument("segment_id", metavar="ID")
@WHERE
@ANY
@BOT
@AS_JSON
def set_filter(segment_id: str, conditions: tuple[str, ...], match_any: bool, bot_id: str, as_json: bool) -> None:
    """Replace the saved filter of dynamic segment ID with the --where conditions."""
    if not conditions:
        raise click.UsageError("give the new filter with --where (repeatable)")
    body = {"filter": where_filter(conditions, match_any)}
    _echo(_request("PATCH", bot_id, _path(segment_id), json=body), as_json, "changed")


@segments.command("delete")
@click.argument("segment_id", metavar="ID")
@click.option("--yes", is_flag=True, help="do not ask first")
@BOT
def delete(segment_id: str, yes: bool, bot_id: str) -> None:
    """Delete segment ID. A static segment's members leave it first (segment_removed events)."""
    if not yes:
        click.confirm(f"Delete segment {segment_id!r} (members of a static segment leave it)?", abort=True)
    result = _request("DELETE", bot_id, _path(segment_id))
    console.print(f"deleted segment {result['deleted']!r}; {result['users']} user(s) removed from it")


@segments.command("members")
@click.argument("segment_id", metavar="ID")
@click.option("--columns", default="name,email,last_seen", show_default=True, help="comma-separated columns")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@BOT
@AS_JSON
def members(segment_id: str, columns: str, limit: int, bot_id: str, as_json: bool) -> None:
    """List the members of segment ID: the filter `segments has ID` (for a dynamic one, its saved filter)."""
    request = {"filter": members_filter(segment_id).model_dump(mode="json"),
               "columns": [c.strip() for c in columns.split(",") if c.strip()], "limit": limit}
    search_users(bot_id, request, as_json)
