"""The composition root: settings in, a wired Faust app (agents + HTTP app) out. Nothing connects at import."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

import faust
import uvloop
from faust.contrib.asgi import serve_asgi

from consumers.clickhouse import ClickHouseEventStore, ClickHouseProjectionStore, connect
from pipeline.core.bots import load_bots
from pipeline.http.app import SERVER_OPTIONS, create_api
from pipeline.kafka import codecs, compacted, topics
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.publisher import KafkaPublisher
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.stream.faust_app import GC_THRESHOLDS, GIL_SWITCH_SECONDS, make_app
from pipeline.stream.supervision import CRASHED, Worker

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    """A worker with CHATLENS_SINK=false opens no ClickHouse (embedded chDB allows one process)."""
    bots = load_bots(settings.bots_file)
    publisher = KafkaPublisher(settings.bootstrap, settings.ingest_timeout_seconds)
    if not settings.sink_enabled:
        return Services(settings=settings, bots=bots, publisher=publisher, store=None)
    client = connect(settings.clickhouse_dsn)
    return Services(settings=settings, bots=bots, publisher=publisher, store=ClickHouseEventStore(client),
                    projections=ClickHouseProjectionStore(client), clickhouse=client)


def build_app(settings: Settings, services: Services) -> faust.App:
    """The worker's Faust app with the HTTP app served inside it (after table recovery)."""
    app = make_app(settings, services)
    serve_asgi(app, create_api(services), host=settings.http_host, port=settings.http_port,
               access_log=settings.access_log, **SERVER_OPTIONS)
    return app


async def read_definitions(bootstrap: str, services: Services) -> None:
    """Bot settings, segments and schedules as their topics hold them now, read side by side, before any
    event is processed or the leader looks for due runs."""
    await asyncio.gather(
        compacted.read_current(bootstrap, topics.BOT_SETTINGS, codecs.decode_bot_settings,
                               lambda item: services.apply_bot_settings(*item)),
        compacted.read_current(bootstrap, topics.SEGMENTS, codecs.decode_segment, services.segments.apply),
        compacted.read_current(bootstrap, topics.SCHEDULES, codecs.decode_schedule, services.schedules.apply))


def run_worker(settings: Settings) -> None:
    """Create topics, connect ClickHouse (migrations run here), then run the Faust worker until stopped.

    On uvloop (Faust's consumer thread too: it makes its loop from the policy): the stream spends a quarter
    of its time in the event loop's own machinery, and uvloop's costs less (0.93 of the CPU per event).
    Threads take turns at the GIL every GIL_SWITCH_SECONDS; the collector runs at GC_THRESHOLDS.
    """
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    gc.set_threshold(*GC_THRESHOLDS)
    ensure_topics(settings.bootstrap, settings.partitions, settings.replication_factor)
    services = build_services(settings)
    asyncio.run(read_definitions(settings.bootstrap, services))
    app = build_app(settings, services)
    worker = Worker(app, loglevel=settings.log_level.upper(), quiet=True, deadline=settings.shutdown_seconds)
    services.on_crash = worker.fail
    log.info("chatlens worker %s: http://%s:%d", settings.worker_name, settings.http_host, settings.http_port)
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        code = e.code
    except Exception:  # noqa: BLE001 - Faust re-raises a crash after its shutdown; already logged
        code = CRASHED
    else:
        code = 0
    sys.exit(worker.exit_code or code)
