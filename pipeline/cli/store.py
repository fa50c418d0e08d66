"""The store through the running worker: `chatlens migrate`, `rebuild` and `sql`."""

from __future__ import annotations

import json
import sys

import click
import httpx
from rich.progress import Progress
from rich.table import Table

from pipeline.cli.common import admin_client, console, current_settings
from queries.migrate import migrate as apply


@click.command()
def migrate() -> None:
    """Apply pending ClickHouse migrations to CLICKHOUSE_URL (the worker also does this at start)."""
    from consumers.clickhouse import connect  # lazy: chDB and clickhouse-connect take 0.4 s
    settings = current_settings()
    client = connect(settings.clickhouse_dsn, apply_migrations=False)
    applied = apply(client)
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@click.command()
@click.option("--apply", is_flag=True, help="swap the recomputed tables in (default: only compare)")
@click.option("--bot", "bot_id", default="", help="compare one bot only (--apply always rebuilds every bot)")
def rebuild(apply: bool, bot_id: str) -> None:
    """Recompute users, sessions and messages from the raw events with the stream's own fold.

    Without --apply it compares and exits 1 when the live tables differ from the recomputation.
    """
    base, headers = admin_client(current_settings())
    report = None
    with Progress(console=console) as bar, httpx.stream(
            "POST", f"{base}/v1/admin/rebuild", params={"apply": apply, "bot": bot_id}, headers=headers,
            timeout=None) as response:
        if response.status_code != 200:
            raise click.ClickException(f"{response.status_code}: {response.read().decode()}")
        task = bar.add_task("rebuilding users", total=None)
        for line in response.iter_lines():
            item = json.loads(line)
            if "error" in item:
                raise click.ClickException(item["error"])
            if "report" in item:
                report = item["report"]
            else:
                bar.update(task, completed=item["done"], total=item["total"])
    differences = report["differences"]
    console.print(f"{report['users']} users, {report['rows']} rows recomputed; differences from the live tables: "
                  + ", ".join(f"{t} {n}" for t, n in differences.items())
                  + ("; recomputed tables swapped in" if report["applied"] else ""))
    if any(differences.values()) and not report["applied"]:
        sys.exit(1)


@click.command()
@click.argument("query")
@click.option("--param", "-p", multiple=True, metavar="NAME=VALUE", help="value for a {NAME:Type} placeholder")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def sql(query: str, param: tuple[str, ...], as_json: bool) -> None:
    """Run read-only SQL through the running worker (the only process that may open embedded chDB).

    Example: chatlens sql "SELECT kind, count() FROM events GROUP BY kind"
    """
    settings = current_settings()
    if not settings.admin_key:
        raise click.ClickException("set CHATLENS_ADMIN_KEY (the same as the worker's) to run SQL")
    parameters = {}
    for item in param:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--param")
        parameters[name] = value
    url = f"http://{settings.http_host}:{settings.http_port}/v1/sql"
    try:
        response = httpx.post(url, json={"sql": query, "parameters": parameters},
                              headers={"Authorization": f"Bearer {settings.admin_key}"}, timeout=60)
    except httpx.HTTPError as e:
        raise click.ClickException(f"cannot reach the worker at {url}: {e}") from None
    if response.status_code != 200:
        raise click.ClickException(f"{response.status_code}: {response.text}")
    result = response.json()
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    table = Table(*result["columns"])
    for row in result["rows"]:
        table.add_row(*(str(v) for v in row))
    console.print(table)
    console.print(f"{len(result['rows'])} row(s)")
