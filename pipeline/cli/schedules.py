"""`chatlens schedules`: scheduled segment exports through the running worker (the bot's API key)."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table

from pipeline.cli.common import bot_client, call, console
from pipeline.core.schedules import MAX_ATTEMPTS

POLL_SECONDS = 1.0
BOT = click.option("--bot", "bot_id", default="demo", show_default=True, help="bot of CHATLENS_BOTS_FILE")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="print the API's JSON")


def _api(bot_id: str):
    """(call, base URL of the bot's schedules): call(method, path, **httpx arguments) -> JSON or a clear error."""
    base, headers = bot_client(bot_id)
    root = f"{base}/v1/bots/{bot_id}/schedules"
    return (lambda method, path="", **kwargs: call(method, f"{root}{path}", headers, **kwargs)), root


def _print(data: dict) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group("schedules")
def schedules() -> None:
    """Export a segment's members as CSV on a cron schedule (UTC), once per scheduled time.

    Files land in CHATLENS_SCHEDULE_DIR/<destination>/<segment>-<YYYYmmddTHHMMSSZ>.csv of the worker
    that runs the export; every run and attempt is kept in the history.

    \b
    Examples:
      chatlens schedules add newsletter --cron '0 6 * * MON' --columns user_id,name,email --destination weekly
      chatlens schedules list
      chatlens schedules run-now 3f2a9c1b7d4e --wait
      chatlens schedules history 3f2a9c1b7d4e
      chatlens schedules remove 3f2a9c1b7d4e
    """


@schedules.command("list")
@BOT
@AS_JSON
def schedules_list(bot_id: str, as_json: bool) -> None:
    """The bot's schedules with their latest run."""
    call, _ = _api(bot_id)
    found = call("GET")
    if as_json:
        return _print(found)
    table = Table("id", "segment", "cron (UTC)", "destination", "columns", "latest run")
    for s in found["schedules"]:
        run = s["latest_run"]
        latest = "" if run is None else f"{run['status']} {run['scheduled_for']} ({run['rows']} rows)"
        table.add_row(s["schedule_id"], s["segment"], s["cron"], s["destination"], ",".join(s["columns"]), latest)
    console.print(table if found["schedules"] else f"bot {bot_id!r} has no schedules")


@schedules.command("add")
@click.argument("segment")
@click.option("--cron", required=True, help="five fields, minute hour day month weekday, in UTC: '0 6 * * MON'")
@click.option("--columns", default=None, help="comma-separated catalogue columns, e.g. user_id,name,email,tags "
                                              "[default: user_id,name,email,last_seen,first_seen]")
@click.option("--destination", default=None, help="directory under CHATLENS_SCHEDULE_DIR [default: the bot id]")
@BOT
@AS_JSON
def schedules_add(segment: str, cron: str, columns: str | None, destination: str | None, bot_id: str,
                  as_json: bool) -> None:
    """Export SEGMENT on a cron schedule.

    \b
    Example: chatlens schedules add newsletter --cron '*/15 * * * *' --destination exports/newsletter
    """
    body: dict = {"segment": segment, "cron": cron}
    if columns:
        body["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    if destination:
        body["destination"] = destination
    call, _ = _api(bot_id)
    created = call("POST", json=body)
    if as_json:
        return _print(created)
    console.print(f"schedule {created['schedule_id']}: {created['segment']} at '{created['cron']}' (UTC) → "
                  f"{created['destination']}/")


@schedules.command("remove")
@click.argument("schedule_id")
@BOT
def schedules_remove(schedule_id: str, bot_id: str) -> None:
    """Delete a schedule (files already written and the history stay)."""
    call, _ = _api(bot_id)
    call("DELETE", f"/{schedule_id}")
    console.print(f"schedule {schedule_id} removed")


@schedules.command("run-now")
@click.argument("schedule_id")
@click.option("--wait", is_flag=True, help="wait until the run succeeded or every attempt failed")
@click.option("--timeout", default=300.0, show_default=True, help="seconds --wait waits at most")
@BOT
def schedules_run_now(schedule_id: str, wait: bool, timeout: float, bot_id: str) -> None:
    """Run a schedule now, outside its cron times (the file carries this time and '-manual-<id>')."""
    call, _ = _api(bot_id)
    run = call("POST", f"/{schedule_id}/run")
    console.print(f"run {run['run_id']} requested → {run['file']}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    while True:
        attempts = [r for r in call("GET", f"/{schedule_id}/runs")["runs"] if r["run_id"] == run["run_id"]]
        if done := [r for r in attempts if r["status"] == "succeeded"]:
            console.print(f"succeeded: {done[0]['rows']} rows → {done[0]['file']}")
            return
        failed = [r for r in attempts if r["status"] == "failed"]
        if len(failed) >= MAX_ATTEMPTS:
            raise click.ClickException(f"the run failed {len(failed)} times; last error: {failed[0]['error']}")
        if time.monotonic() > deadline:
            raise click.ClickException(f"the run did not finish within {timeout:g}s; "
                                       f"see `chatlens schedules history {schedule_id}`")
        time.sleep(POLL_SECONDS)


@schedules.command("history")
@click.argument("schedule_id")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@BOT
@AS_JSON
def schedules_history(schedule_id: str, limit: int, bot_id: str, as_json: bool) -> None:
    """The schedule's runs, newest first: one line per attempt with rows, file and error."""
    call, _ = _api(bot_id)
    found = call("GET", f"/{schedule_id}/runs", params={"limit": limit})
    if as_json:
        return _print(found)
    table = Table("run_id", "attempt", "status", "rows", "file", "started_at", "finished_at", "error")
    for r in found["runs"]:
        table.add_row(r["run_id"], str(r["attempt"]), r["status"], str(r["rows"]), r["file"], r["started_at"],
                      r["finished_at"] or "", (r["error"] or "")[:120])
    console.print(table if found["runs"] else f"schedule {schedule_id} has not run yet")
