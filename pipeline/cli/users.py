"""`chatlens users list|show` and the bulk actions (add-tag, set-attribute, ban, delete, ...)."""

from __future__ import annotations

import json

import click
from rich.table import Table

from pipeline.cli.common import bot_client, call, console, search_users, where_filter


@click.group()
def users() -> None:
    """Find and inspect users of a bot (asks the running worker with the bot's API key)."""


@users.command("list")
@click.option("--bot", "bot_id", default="demo", show_default=True)
@click.option("--where", "conditions", multiple=True, metavar="'COLUMN FUNCTION [VALUE]'",
              help="e.g. 'country = Poland', 'attributes.plan = pro', 'sessions > 3', 'tags has vip', "
                   "'last_seen within_last_days 7'; repeat for more")
@click.option("--any", "match_any", is_flag=True, help="match any condition instead of all")
@click.option("--columns", default=None, help="comma-separated, e.g. name,email,sessions,attributes.plan")
@click.option("--sort", default="last_seen", show_default=True, help="column; prefix with + for ascending")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
def users_list(bot_id: str, conditions: tuple[str, ...], match_any: bool, columns: str | None, sort: str,
               limit: int, as_json: bool) -> None:
    """List users matching every (or, with --any, some) condition, newest first by default."""
    request = {"filter": where_filter(conditions, match_any), "limit": limit,
               "sort": {"column": sort.lstrip("+-"), "direction": "asc" if sort.startswith("+") else "desc"}}
    if columns:
        request["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    search_users(bot_id, request, as_json)


@users.command("show")
@click.argument("user_id")
@click.option("--bot", "bot_id", default="demo", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
def users_show(user_id: str, bot_id: str, as_json: bool) -> None:
    """Show one user: profile, metrics, attributes, tags, segments, last session and the transcript."""
    base, headers = bot_client(bot_id)
    user = call("GET", f"{base}/v1/bots/{bot_id}/users/{user_id}", headers)
    chats = call("GET", f"{base}/v1/bots/{bot_id}/users/{user_id}/transcript", headers)
    if as_json:
        click.echo(json.dumps({"user": user, "transcript": chats}, ensure_ascii=False, default=str))
        return
    console.print(f"[bold]{user['profile'].get('name') or user_id}[/bold] {user['profile'].get('email') or ''}")
    details = Table("field", "value", show_header=False)
    for group in ("profile", "metrics"):
        for key, value in user[group].items():
            if value not in (None, ""):
                details.add_row(key, str(value))
    for key in ("channels", "tags", "segments", "attributes", "banned"):
        details.add_row(key, str(user[key]))
    console.print(details)
    for number, chat in enumerate(chats["sessions"], start=1):
        session = chat["session"] or {}
        console.print(f"[bold]session {number}[/bold] {session.get('started_at', '')} → {session.get('ended_at', '')}")
        for message in chat["messages"]:
            score = "" if message.get("sentiment") is None else f" ({message['sentiment']:+.2f})"
            arrow = "→" if message["direction"] == "inbound" else "←"
            console.print(f"  {message['occurred_at']} {arrow} {message['text']}{score}")


def _selection(bot_id: str, user_ids: tuple[str, ...], conditions: tuple[str, ...], match_any: bool) -> dict:
    if bool(user_ids) == bool(conditions):
        raise click.UsageError("choose users with --user-id (repeatable) or --where (repeatable), not both")
    return {"user_ids": list(user_ids)} if user_ids else {"filter": where_filter(conditions, match_any)}


ACTION_ARGUMENTS = {  # CLI verb -> (API action, positional arguments, help)
    "add-tag": ("add_tag", ("tag",), "Add a tag to the chosen users."),
    "remove-tag": ("remove_tag", ("tag",), "Remove a tag from the chosen users."),
    "set-attribute": ("set_attribute", ("key", "value"), "Set a custom attribute KEY = VALUE."),
    "remove-attribute": ("remove_attribute", ("key",), "Remove a custom attribute."),
    "add-to-segment": ("add_to_segment", ("segment",), "Add the chosen users to a segment."),
    "remove-from-segment": ("remove_from_segment", ("segment",), "Remove the chosen users from a segment."),
    "edit-name": ("edit_name", ("name",), "Set the name of the chosen users."),
    "edit-email": ("edit_email", ("email",), "Set the email of the chosen users."),
    "ban": ("ban", (), "Ban the chosen users."),
    "unban": ("unban", (), "Lift the ban of the chosen users."),
    "delete": ("delete", (), "Delete the chosen users: profile, sessions, messages and raw events."),
}


def _action_command(verb: str, action: str, arguments: tuple[str, ...], help_text: str) -> click.Command:
    def command(bot_id: str, user_ids: tuple[str, ...], conditions: tuple[str, ...], match_any: bool, yes: bool,
                **values: str) -> None:
        body = {"action": action, **_selection(bot_id, user_ids, conditions, match_any), **values}
        if action == "delete" and not yes:
            click.confirm("Delete these users for good (their chats leave the store too)?", abort=True)
        base, headers = bot_client(bot_id)
        result = call("POST", f"{base}/v1/bots/{bot_id}/users/actions", headers, json=body)
        console.print(f"{verb}: {result['users']} user(s) (action {result['action_id']}); "
                      "visible in queries within seconds")

    params = [click.Argument([name]) for name in arguments] + [
        click.Option(["--bot", "bot_id"], default="demo", show_default=True),
        click.Option(["--user-id", "user_ids"], multiple=True, help="a user id; repeatable"),
        click.Option(["--where", "conditions"], multiple=True, help="a condition as in `users list`; repeatable"),
        click.Option(["--any", "match_any"], is_flag=True, help="match any condition instead of all"),
        click.Option(["--yes"], is_flag=True, help="do not ask before deleting")]
    return click.Command(verb, callback=command, params=params, help=help_text + " Choose users with --user-id "
                         "or --where.")


for _verb, (_action, _arguments, _help) in ACTION_ARGUMENTS.items():
    users.add_command(_action_command(_verb, _action, _arguments, _help))
