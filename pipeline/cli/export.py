"""`chatlens export`: users as CSV through the running worker (small exports at once, large ones as a job)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
import httpx

from pipeline.cli.common import bot_client, console, where_filter
from schemas.exports import DIRECT_LIMIT

POLL_SECONDS = 0.5


@click.command("export")
@click.option("--bot", "bot_id", default="demo", show_default=True)
@click.option("--where", "conditions", multiple=True, metavar="'COLUMN FUNCTION [VALUE]'",
              help="e.g. 'country = PL', 'attributes.plan = pro', 'tags has vip'; repeat for more")
@click.option("--any", "match_any", is_flag=True, help="match any --where condition instead of all")
@click.option("--user-id", "user_ids", multiple=True, metavar="ID", help="export this user; repeat for more")
@click.option("--segment", default=None, metavar="ID",
              help="export the members of this segment, static or dynamic (as --where 'segments has ID')")
@click.option("--columns", default=None,
              help="comma-separated, e.g. name,email,attributes.plan,tags "
                   "[default: user_id,name,email,last_seen,first_seen]")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the CSV file to write")
@click.option("--direct-limit", type=click.IntRange(0, DIRECT_LIMIT), default=None,
              help=f"run as a job on the worker when more users than this match [default: {DIRECT_LIMIT}]")
def export(bot_id: str, conditions: tuple[str, ...], match_any: bool, user_ids: tuple[str, ...], segment: str | None,
           columns: str | None, out: Path, direct_limit: int | None) -> None:
    """Export users as CSV: every user of the bot, those matching --where, the --user-id ones or a --segment.

    Up to 10,000 users download at once; a larger export runs on the worker as a job, followed here
    with a progress bar and downloaded when it is done. The file appears only when complete.
    """

    if sum(map(bool, (user_ids, conditions, segment))) > 1:
        raise click.UsageError("choose users one way: --where conditions, --user-id ids or --segment")
    body: dict = ({"user_ids": list(user_ids)} if user_ids else {"segment": segment} if segment
                  else {"filter": where_filter(conditions, match_any)})
    if columns:
        body["columns"] = [c.strip() for c in columns.split(",") if c.strip()]
    if direct_limit is not None:
        body["direct_limit"] = direct_limit
    base, headers = bot_client(bot_id)
    url = f"{base}/v1/bots/{bot_id}/exports"
    try:
        with httpx.stream("POST", url, json=body, headers=headers, timeout=httpx.Timeout(60, read=300)) as response:
            if response.status_code == 200:
                _save(response, out, console)
                console.print(f"{response.headers.get('X-Export-Rows', '?')} users → {out}")
                return
            if response.status_code != 202:
                raise _failure(response)
            job = json.loads(response.read())
        job = _follow(f"{base}{job['status_url']}", headers, job, console)
        with httpx.stream("GET", f"{base}{job['download_url']}", headers=headers,
                          timeout=httpx.Timeout(60, read=300)) as response:
            if response.status_code != 200:
                raise _failure(response)
            _save(response, out, console)
    except httpx.HTTPError as e:
        raise click.ClickException(f"talking to the worker at {base} failed: {e}") from None
    console.print(f"{job['rows_written']} users → {out}")


def _follow(status_url: str, headers: dict[str, str], job: dict, console) -> dict:
    """Poll the job with a progress bar (rows written of total) until it is done; fail with its error."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    console.print(f"export {job['id']} of {job['total_rows']} users runs on the worker")
    with Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("rows", total=job["total_rows"] or None)
        while job["status"] not in ("done", "failed"):
            time.sleep(POLL_SECONDS)
            response = httpx.get(status_url, headers=headers, timeout=60)
            if response.status_code != 200:
                raise _failure(response)
            job = response.json()
            bar.update(task, completed=job["rows_written"])
        bar.update(task, completed=job["rows_written"], total=max(job["total_rows"], job["rows_written"]))
    if job["status"] == "failed":
        raise click.ClickException(f"the export failed: {job['error']}")
    return job


def _save(response: httpx.Response, out: Path, console) -> None:
    """Stream the CSV to `<out>.partial`, then rename it, so `out` is never a half-written file."""
    from rich.progress import DownloadColumn, Progress, SpinnerColumn, TransferSpeedColumn
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as file, Progress(SpinnerColumn(), DownloadColumn(), TransferSpeedColumn(),
                                                   console=console, transient=True) as bar:
            task = bar.add_task("download", total=None)
            for chunk in response.iter_bytes():
                file.write(chunk)
                bar.update(task, advance=len(chunk))
        os.replace(partial, out)
    except OSError as e:
        raise click.ClickException(f"cannot write {out}: {e}") from None
    finally:
        partial.unlink(missing_ok=True)


def _failure(response: httpx.Response) -> click.ClickException:
    response.read()
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    return click.ClickException(f"{response.status_code}: {detail}")
