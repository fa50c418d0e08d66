"""The HTTP app: health, event ingestion, the Users API and page (/ui/), read-only SQL (OpenAPI at /docs).

Served by the worker process (chDB allows one engine per process, so everything that reads the
embedded store asks the worker over HTTP).
"""


import asyncio
import hmac
import json
import time
from datetime import UTC, datetime
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from pipeline.http.errors import ApiError
from schemas.bot_settings import BotSettings
from pipeline.core.bots import Bot
from pipeline.core.ingest import events_for_bot
from pipeline.kafka.publisher import PublishUnavailable, dead_letter
from pipeline.services import Services
from pipeline.http.exports import add_export_routes
from pipeline.http.segments import add_segment_routes
from pipeline.http.schedules import add_schedule_routes
from pipeline.http.ui import add_ui_routes
from pipeline.http.users import add_user_routes
from pipeline.http.webhooks import add_webhook_routes
from schemas.events import EventTooLarge, InvalidEvent, utc_now
from schemas.limits import MAX_EVENT_BYTES, MAX_EVENTS_BODY_BYTES, MAX_EVENTS_PER_REQUEST, MAX_TEXT_CHARS



def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send the bot's API key as 'Authorization: Bearer <key>'",
                       {"WWW-Authenticate": "Bearer"})
    return token.strip()


EVENTS_LIMITS = (f"limits: a text at most {MAX_TEXT_CHARS:,} characters, an event at most {MAX_EVENT_BYTES:,} bytes "
                 f"as JSON, a request at most {MAX_EVENTS_BODY_BYTES:,} bytes and {MAX_EVENTS_PER_REQUEST:,} events")


class SqlRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000, examples=["SELECT count() FROM events"])
    parameters: dict[str, Any] = Field(default_factory=dict,
                                       description="values for {name:Type} placeholders in the SQL")


class Accepted(BaseModel):
    accepted: int
    event_ids: list[str]


def create_api(services: Services) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        start = getattr(services.publisher, "start", None)
        if start:
            await start()
        try:
            yield
        finally:
            stop = getattr(services.publisher, "stop", None)
            if stop:
                await stop()

    api = FastAPI(title="chatlens", version="0.1.0", lifespan=lifespan,
                  description="Conversation analytics: ingest chat events, query the Users section.")

    @api.exception_handler(PublishUnavailable)
    async def _kafka_unavailable(_: Request, exc: PublishUnavailable) -> JSONResponse:
        """Anything Kafka did not acknowledge (events, dead letters, settings) is a 503: the sender retries."""
        return JSONResponse({"error": "kafka_unavailable", "detail": str(exc)}, status_code=503,
                            headers={"Retry-After": "5"})

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    def authorized_bot(bot_id: str, authorization: Annotated[str | None, Header()] = None) -> Bot:
        token = _bearer(authorization)
        bot = services.bots.get(bot_id)
        if bot is None or not bot.accepts_key(token):
            raise ApiError(401, "unauthorized", "unknown bot or wrong API key", {"WWW-Authenticate": "Bearer"})
        return bot

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = _bearer(authorization)
        key = services.settings.admin_key
        if key is None:
            raise ApiError(403, "forbidden", "set CHATLENS_ADMIN_KEY to enable admin endpoints")
        if not hmac.compare_digest(token.encode(), key.encode()):
            raise ApiError(401, "unauthorized", "wrong admin key", {"WWW-Authenticate": "Bearer"})

    @api.get("/health", summary="Kafka, ClickHouse, sinks, agents and stream progress; 503 naming what is wrong")
    async def health() -> JSONResponse:
        report: dict[str, Any] = {}
        try:
            await services.publisher.ping()
            report["kafka"] = {"ok": True, "bootstrap": services.settings.bootstrap}
        except PublishUnavailable as e:
            report["kafka"] = {"ok": False, "error": str(e)}
        if services.store is None:
            report["clickhouse"] = {"ok": True, "detail": "CHATLENS_SINK=false: this worker holds no store"}
        else:
            try:
                await asyncio.wait_for(asyncio.to_thread(services.store.count, "__health__"), 5)
                report["clickhouse"] = {"ok": True, "url": _redacted(services.settings.clickhouse_dsn)}
            except Exception as e:  # noqa: BLE001 - reported, not raised
                report["clickhouse"] = {"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}"}
        report["sinks"] = {name: asdict(status) for name, status in services.sinks.items()}
        report["agents"] = {name: asdict(status) for name, status in services.agents.items()}
        if services.progress is not None:
            report["stream"] = services.progress.report(time.monotonic())
        problems = [name for name in ("kafka", "clickhouse") if not report[name]["ok"]]
        problems += [f"sink {name}: {s.last_error}" for name, s in services.sinks.items() if not s.ok]
        problems += [f"{'crashed' if s.crashed else 'failing'} {name}: {s.last_error}"
                     for name, s in services.agents.items() if not s.ok]
        problems += [f"not advancing: {name}" for name in report.get("stream", {}).get("stalled", [])]
        status = {"status": "degraded", "problems": problems} if problems else {"status": "ok"}
        return JSONResponse({**status, **report}, status_code=503 if problems else 200)

    @api.post("/v1/bots/{bot_id}/events", status_code=202, response_model=Accepted,
              summary="Ingest canonical events (one JSON object, a JSON array, or NDJSON lines)",
              responses={400: {"description": "invalid events; kept on the dead-letter topic"},
                         413: {"description": "over a size limit (named); kept on the dead-letter topic"},
                         503: {"description": "Kafka did not acknowledge; retry"}})
    async def post_events(bot: Annotated[Bot, Depends(authorized_bot)], request: Request) -> Accepted:
        body = await request.body()
        received_at = utc_now()
        try:
            if len(body) > MAX_EVENTS_BODY_BYTES:
                raise EventTooLarge([f"body: at most {MAX_EVENTS_BODY_BYTES:,} bytes per request (got {len(body):,})"])
            events = events_for_bot(body, bot.bot_id, received_at)
            await services.publisher.publish(events)  # EventTooLarge before anything is sent
        except InvalidEvent as e:  # kept first; if Kafka cannot keep it, the 503 makes the sender retry
            await services.publisher.dead_letter(
                dead_letter("events-api", bot.bot_id, e.problems, body, request.headers, received_at))
            if isinstance(e, EventTooLarge):
                raise ApiError(413, "too_large", [*e.problems, EVENTS_LIMITS]) from None
            raise ApiError(400, "invalid_event", e.problems) from None
        return Accepted(accepted=len(events), event_ids=[e.event_id for e in events])

    @api.get("/v1/bots/{bot_id}/events", summary="Stored raw events of a bot (or one user), oldest first")
    async def list_events(bot: Annotated[Bot, Depends(authorized_bot)], user_id: str = "",
                          limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict:
        events = await asyncio.to_thread(require(services.store).list, bot.bot_id, user_id, limit)
        return {"events": [e.model_dump(mode="json") for e in events]}

    @api.get("/v1/bots/{bot_id}/settings", response_model=BotSettings, summary="The bot's run-time settings")
    async def get_settings(bot: Annotated[Bot, Depends(authorized_bot)]) -> BotSettings:
        return BotSettings(inactivity_minutes=services.window_for(bot.bot_id).total_seconds() / 60)

    @api.put("/v1/bots/{bot_id}/settings", response_model=BotSettings,
             summary="Change the inactivity window; every worker applies it to events processed afterwards")
    async def put_settings(bot: Annotated[Bot, Depends(authorized_bot)], values: BotSettings) -> BotSettings:
        await services.publisher.bot_settings(bot.bot_id, values.model_dump())
        services.apply_bot_settings(bot.bot_id, values)
        return values

    @api.post("/v1/sql", dependencies=[Depends(admin)],
              summary="Run read-only SQL on the store (analysts; embedded chDB is reachable only here)")
    async def sql(request: SqlRequest) -> dict:
        if services.clickhouse is None:
            raise ApiError(501, "not_available", "no ClickHouse client in this process")
        def run() -> tuple[list[str], list]:
            client, settings = services.clickhouse, {"readonly": 1}
            result = client.query(request.sql, parameters=request.parameters, settings=settings)
            names = list(result.column_names)
            if not names:  # chDB names no columns for an empty result; ask ClickHouse what they would be
                inner = request.sql.strip().rstrip(";")
                described = client.query(f"DESCRIBE TABLE ({inner}\n)", parameters=request.parameters,
                                         settings=settings)
                names = [row[0] for row in described.result_rows]
            return names, result.result_rows

        try:
            names, rows = await asyncio.to_thread(run)
        except Exception as e:  # noqa: BLE001 - the database's message is the useful answer
            raise ApiError(400, "sql_error", str(e)[:2000]) from None
        return {"columns": names, "rows": [list(map(_jsonable, r)) for r in rows]}

    @api.post("/v1/admin/rebuild", dependencies=[Depends(admin)],
              summary="Recompute users, sessions and messages from the raw events; NDJSON progress, then a report")
    async def rebuild(apply: bool = False, bot: str = "") -> StreamingResponse:
        from consumers.rebuild import rebuild as run_rebuild
        client = require(services.clickhouse)
        loop, queue = asyncio.get_running_loop(), asyncio.Queue()

        def progress(done: int, total: int) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, {"done": done, "total": total})

        def work() -> None:
            try:
                report = run_rebuild(client, window_for=services.window_for, grace=services.grace, apply=apply,
                                     bot_id=bot, progress=progress)
                loop.call_soon_threadsafe(queue.put_nowait, {"report": asdict(report)})
            except Exception as e:  # noqa: BLE001 - reported to the caller
                loop.call_soon_threadsafe(queue.put_nowait, {"error": f"{type(e).__name__}: {e}"})

        async def lines():
            task = asyncio.create_task(asyncio.to_thread(work))
            while True:
                item = await queue.get()
                yield json.dumps(item) + "\n"
                if "report" in item or "error" in item:
                    break
            await task

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    add_webhook_routes(api, services)
    add_user_routes(api, services, authorized_bot, require, ApiError)
    add_segment_routes(api, services, authorized_bot, require, ApiError)
    add_export_routes(api, services, authorized_bot, require, ApiError)
    add_schedule_routes(api, services, authorized_bot, require, ApiError)
    add_ui_routes(api)
    return api


def require(store: Any) -> Any:
    """Reads need the store; a worker started with CHATLENS_SINK=false has none."""
    if store is None:
        raise ApiError(503, "no_store", "this worker holds no store (CHATLENS_SINK=false); ask the one that does")
    return store


def _jsonable(value: Any) -> Any:
    if isinstance(value, int | float | str | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):  # the schema keeps every time in UTC; chDB hands them back naive
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _redacted(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
