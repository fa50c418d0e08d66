"""The `chatlens` command. Every subcommand has --help; configuration comes from the environment."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import click
import httpx
from rich.console import Console
from rich.table import Table

from pipeline.settings import Settings, load_settings

console = Console()


def _load_bot(bot_id: str):
    """The settings and the named bot of CHATLENS_BOTS_FILE, or a clear error."""
    from pipeline.core.bots import BotConfigError, load_bots
    settings = _settings()
    try:
        bot = load_bots(settings.bots_file).get(bot_id)
    except BotConfigError as e:
        raise click.ClickException(str(e)) from None
    if bot is None:
        raise click.ClickException(f"no bot {bot_id!r} in {settings.bots_file}")
    return settings, bot


def where_filter(conditions: tuple[str, ...], match_any: bool) -> dict:
    """--where conditions as the API's filter group."""
    from pipeline.cli.where import WhereError, parse_where
    from queries.columns import FilterError
    try:
        filters = [parse_where(c).model_dump() for c in conditions]
    except (WhereError, FilterError) as e:
        raise click.BadParameter(str(e), param_hint="--where") from None
    return {"match": "any" if match_any else "all", "filters": filters}


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as e:  # pydantic's message names the variable and the problem
        raise click.ClickException(f"invalid configuration:\n{e}") from None


def _broker(settings: Settings):
    from pipeline.kafka.broker import LocalBroker
    return LocalBroker(settings.broker_dir, port=settings.kafka_port, partitions=settings.partitions)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """chatlens: chat webhooks -> Kafka -> Faust -> ClickHouse -> the Users section.

    Configuration is read from environment variables (see README.md, "Configuration").
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "httpx"):  # they narrate every connection at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)


@main.command()
def run() -> None:
    """Start everything on this machine: the local Kafka (unless KAFKA_BOOTSTRAP is set) and the worker.

    Ctrl-C stops the worker, then the broker this command started. A worker that crashed (exit code 1)
    is started again: it reads on from the committed offsets.
    """
    from pipeline.kafka.broker import BrokerError

    settings = _settings()
    broker = _broker(settings) if settings.uses_local_broker else None
    started_here = False
    if broker is not None:
        started_here = broker.pid() is None
        console.print(f"[bold]Kafka[/bold] local broker on {broker.bootstrap} (data in {broker.run_dir})")
        try:
            broker.start()
        except BrokerError as e:
            raise click.ClickException(str(e)) from None
    console.print(f"[bold]chatlens[/bold] http://{settings.http_host}:{settings.http_port}/health · "
                  f"API docs http://{settings.http_host}:{settings.http_port}/docs · "
                  f"ClickHouse {settings.clickhouse_dsn}")
    try:
        supervise_worker()
    finally:
        if broker is not None and started_here:
            console.print("stopping the local Kafka broker")
            broker.stop()


WORKER = [sys.executable, "-c", "import sys; from pipeline.cli.main import main; sys.argv[0] = 'chatlens'; main()",
          "worker"]


def supervise_worker() -> None:
    """Run `chatlens worker` until it stops by itself or by a signal; start it again after a crash."""
    import signal
    import subprocess
    import time

    from pipeline.stream.supervision import CRASHED
    delay = 1.0
    while True:
        began = time.monotonic()
        proc = subprocess.Popen(WORKER)
        stopping = []

        def forward(signum, _frame, proc=proc, stopping=stopping):
            stopping.append(signum)  # Ctrl-C reaches the worker from the terminal too; SIGTERM is passed on
            if signum == signal.SIGTERM:
                proc.terminate()

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if stopping or code != CRASHED:
            if code not in (0, CRASHED) and not stopping:
                raise click.ClickException(f"the worker exited with {code}")
            return
        delay = 1.0 if time.monotonic() - began > 60 else min(30.0, delay * 2)
        console.print(f"[red]the worker crashed[/red] (see its log above); starting it again in {delay:.0f}s")
        time.sleep(delay)


@main.command()
def worker() -> None:
    """Run one Faust worker with the HTTP app (Kafka must be reachable at KAFKA_BOOTSTRAP or the local port)."""
    from pipeline.app import run_worker
    run_worker(_settings())


@main.group()
def kafka() -> None:
    """Manage the local single-node Kafka broker (KRaft) run from Maven Central jars."""


@kafka.command("start")
@click.option("--timeout", default=90.0, show_default=True, help="seconds to wait until the broker answers")
def kafka_start(timeout: float) -> None:
    """Fetch the jars (once, cached), format storage (once) and start the broker; waits until it answers."""
    from pipeline.kafka.broker import BrokerError
    broker = _broker(_settings())
    try:
        broker.start(timeout)
    except BrokerError as e:
        raise click.ClickException(str(e)) from None
    console.print(f"Kafka running on {broker.bootstrap} (pid {broker.pid()}, log {broker.log_file})")


@kafka.command("stop")
def kafka_stop() -> None:
    """Stop the local broker cleanly (SIGTERM, then SIGKILL after 30 s)."""
    broker = _broker(_settings())
    console.print("stopped" if broker.stop() else "not running")


@kafka.command("status")
def kafka_status() -> None:
    """Say whether the local broker runs and answers; exit 1 when it does not."""
    broker = _broker(_settings())
    pid, ready = broker.pid(), broker.is_ready()
    console.print(f"Kafka on {broker.bootstrap}: {'ready' if ready else 'not answering'}"
                  + (f" (pid {pid})" if pid else " (not started by chatlens)"))
    sys.exit(0 if ready else 1)


@main.command()
def migrate() -> None:
    """Apply pending ClickHouse migrations to CLICKHOUSE_URL (the worker also does this at start)."""
    from consumers.clickhouse import connect
    from queries.migrate import migrate as apply
    settings = _settings()
    client = connect(settings.clickhouse_dsn, apply_migrations=False)
    applied = apply(client)
    console.print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


def _admin_request(settings: Settings) -> tuple[str, dict[str, str]]:
    if not settings.admin_key:
        raise click.ClickException("set CHATLENS_ADMIN_KEY (the same as the worker's)")
    return (f"http://{settings.http_host}:{settings.http_port}",
            {"Authorization": f"Bearer {settings.admin_key}"})


@main.command()
@click.option("--apply", is_flag=True, help="swap the recomputed tables in (default: only compare)")
@click.option("--bot", "bot_id", default="", help="compare one bot only (--apply always rebuilds every bot)")
def rebuild(apply: bool, bot_id: str) -> None:
    """Recompute users, sessions and messages from the raw events with the stream's own fold.

    Without --apply it compares and exits 1 when the live tables differ from the recomputation.
    """
    from rich.progress import Progress
    base, headers = _admin_request(_settings())
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


@main.command()
@click.argument("query")
@click.option("--param", "-p", multiple=True, metavar="NAME=VALUE", help="value for a {NAME:Type} placeholder")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def sql(query: str, param: tuple[str, ...], as_json: bool) -> None:
    """Run read-only SQL through the running worker (the only process that may open embedded chDB).

    Example: chatlens sql "SELECT kind, count() FROM events GROUP BY kind"
    """
    settings = _settings()
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


@main.command()
@click.option("--bot", "bot_id", default="demo", show_default=True, help="bot of CHATLENS_BOTS_FILE to send as")
@click.option("--users", default=200, show_default=True, type=click.IntRange(1, 100_000), help="how many chat users")
@click.option("--seed", default=1, show_default=True, help="same seed, same traffic")
@click.option("--url", default=None, help="chatlens base URL [default: http://CHATLENS_HTTP_HOST:CHATLENS_HTTP_PORT]")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
def demo(bot_id: str, users: int, seed: int, url: str | None, concurrency: int) -> None:
    """Send realistic signed webhook traffic for every channel the bot has secrets for.

    Many users over the last 14 days, sessions with pauses, emoji, bot replies, URL and postback
    clicks and the profile data each platform really sends; so a new install has something to show.
    """
    from datetime import UTC, datetime

    from rich.progress import Progress

    from pipeline.demo.traffic import plan, send
    settings, bot = _load_bot(bot_id)
    requests = plan(bot, users=users, seed=seed, now=datetime.now(UTC))
    if not requests:
        raise click.ClickException(f"bot {bot_id!r} has no channel secrets: add [bots.{bot_id}.<channel>] tables")
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    with Progress(console=console) as bar:
        task = bar.add_task(f"sending {len(requests)} webhooks", total=len(requests))
        report = asyncio.run(send(requests, base, concurrency=concurrency,
                                  on_progress=lambda done, total: bar.update(task, completed=done)))
    table = Table("channel", "requests", "answers")
    for channel, statuses in sorted(report.by_channel.items()):
        table.add_row(channel, str(sum(statuses.values())),
                      ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(statuses.items())))
    console.print(table)
    console.print(f"{report.accepted_events} of {report.expected_events} events accepted"
                  + (f", {report.retries} retries" if report.retries else ""))
    for error in report.errors[:5]:
        console.print(f"[red]{error}[/red]")
    if not report.ok:
        sys.exit(1)


@main.group()
def users() -> None:
    """Find and inspect users of a bot (asks the running worker with the bot's API key)."""


def _bot_client(bot_id: str) -> tuple[str, dict[str, str]]:
    settings, bot = _load_bot(bot_id)
    return f"http://{settings.http_host}:{settings.http_port}", {"Authorization": f"Bearer {bot.api_key}"}


def _call(method: str, url: str, headers: dict[str, str], **kwargs) -> dict:
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


def search_users(bot_id: str, request: dict, as_json: bool) -> None:
    """Ask the worker for a page of users and print it as a table (or the API's JSON)."""
    base, headers = _bot_client(bot_id)
    page = _call("POST", f"{base}/v1/bots/{bot_id}/users/search", headers, json=request)
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


@users.command("show")
@click.argument("user_id")
@click.option("--bot", "bot_id", default="demo", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON")
def users_show(user_id: str, bot_id: str, as_json: bool) -> None:
    """Show one user: profile, metrics, attributes, tags, segments, last session and the transcript."""
    base, headers = _bot_client(bot_id)
    user = _call("GET", f"{base}/v1/bots/{bot_id}/users/{user_id}", headers)
    chats = _call("GET", f"{base}/v1/bots/{bot_id}/users/{user_id}/transcript", headers)
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
        base, headers = _bot_client(bot_id)
        result = _call("POST", f"{base}/v1/bots/{bot_id}/users/actions", headers, json=body)
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


def _register_commands() -> None:
    from pipeline.cli.export import export  # they import pipeline.cli.main's helpers lazily, so no cycle
    from pipeline.cli.schedules import schedules
    from pipeline.cli.segments import segments
    main.add_command(export)
    main.add_command(segments)
    main.add_command(schedules)


_register_commands()


@main.group()
def dlq() -> None:
    """Inspect and replay the dead-letter topic (authenticated requests that did not parse)."""


def _letters(limit: int):
    from pipeline.kafka.dead_letters import read_letters
    settings = _settings()
    try:
        return asyncio.run(read_letters(settings.bootstrap, limit))
    except Exception as e:  # noqa: BLE001 - Kafka's message is what the operator needs
        raise click.ClickException(f"cannot read the dead-letter topic at {settings.bootstrap}: {e}") from None


@dlq.command("list")
@click.option("--limit", default=100, show_default=True, help="at most this many letters")
def dlq_list(limit: int) -> None:
    """One line per dead letter: id, when, where from, which bot, why."""
    letters = _letters(limit)
    table = Table("id", "received_at", "source", "bot", "reason")
    for letter in letters:
        r = letter.record
        table.add_row(letter.id, r.get("received_at", ""), r.get("source", ""), str(r.get("bot_id")),
                      "; ".join(r.get("reason", []))[:120])
    console.print(table if letters else "the dead-letter topic is empty")


@dlq.command("show")
@click.argument("letter_id")
def dlq_show(letter_id: str) -> None:
    """Print one letter in full (reason, headers, body) as JSON. LETTER_ID is partition:offset."""
    for letter in _letters(100_000):
        if letter.id == letter_id:
            record = dict(letter.record)
            click.echo(json.dumps({"id": letter.id, **record}, indent=2, ensure_ascii=False))
            return
    raise click.ClickException(f"no letter {letter_id} (see `chatlens dlq list`)")


@dlq.command("replay")
@click.argument("letter_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="replay every letter on the topic")
def dlq_replay(letter_ids: tuple[str, ...], replay_all: bool) -> None:
    """Parse letters again with today's code and publish the events of those that now parse.

    Replaying is idempotent: events keep their platform ids, so downstream counts them once.
    """
    from pipeline.kafka.dead_letters import REPLAY_ERRORS, reparse
    from pipeline.kafka.publisher import KafkaPublisher
    if not letter_ids and not replay_all:
        raise click.UsageError("name letter ids (partition:offset) or pass --all")
    letters = [l for l in _letters(100_000) if replay_all or l.id in letter_ids]
    missing = set(letter_ids) - {l.id for l in letters}
    if missing:
        raise click.ClickException(f"no such letters: {', '.join(sorted(missing))}")
    ready, failed = [], 0
    for letter in letters:
        try:
            ready.append((letter, reparse(letter)))
        except REPLAY_ERRORS as e:
            failed += 1
            console.print(f"{letter.id}: still fails: {e}")
    settings = _settings()

    async def publish() -> int:
        publisher = KafkaPublisher(settings.bootstrap, settings.ingest_timeout_seconds)
        await publisher.start()
        try:
            for _, events in ready:
                await publisher.publish(events)
        finally:
            await publisher.stop()
        return sum(len(events) for _, events in ready)

    published = asyncio.run(publish()) if ready else 0
    console.print(f"replayed {len(ready)} letter(s) as {published} event(s); {failed} still failing")
    if failed:
        sys.exit(1)
