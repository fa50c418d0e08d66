"""The Faust app of a worker: its Kafka settings, its topics (raw bytes; the codecs are ours), the agents."""

from __future__ import annotations

import faust

from pipeline.kafka import topics
from pipeline.services import Services
from pipeline.settings import Settings
from pipeline.stream import agents, consumer
from pipeline.stream.lean_monitor import LeanMonitor
from pipeline.stream.raw_schema import RawBytes
from schemas.limits import PRODUCER_MAX_REQUEST_BYTES

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). Faust's Kafka
# consumer runs in a thread of its own: while the agent folds a batch, every step of a fetch waited up to
# 5 ms, and the stream then waited for its next records (1 ms: 1.07 times the events/s, same CPU per event).
GIL_SWITCH_SECONDS = 0.001

# The cyclic collector's thresholds. Python's first generation is collected whenever 700 more objects are
# alive than at its last collection; the stream holds thousands in flight (its buffers, a batch, its rows),
# so each was walked there, promoted, and walked again by the older generations' collections (2.0-2.6 s of a
# 150,000-event run's 21-23 s of CPU). At 10,000: 1.05x events/s (three trees alternated, bench/RESULTS.md). At
# 50,000 a little faster (1.06x) but the worker held 1,031-1,050 MiB with a million users (807 at 10,000, 744-768
# at 700; why is not settled: the collector found few cycles, 3,526 objects in a 200,000-user run).
GC_THRESHOLDS = (10_000, 10, 10)


def make_app(settings: Settings, services: Services) -> faust.App:
    settings.worker_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap.replace(',', ';kafka://')}",
        store="rocksdb://",
        datadir=str(settings.worker_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_seconds / 10),
        producer_acks=-1,
        # rows and changelog records go out in batches; the projection awaits its rows before it writes the
        # table: with 10 ms it waited 22 ms a batch of 2,000, with 2 ms 12-15 ms (events/s 1.05, same CPU)
        producer_linger=0.002,
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,  # Faust's default (1,000,000) is below our limits
        stream_wait_empty=True,
        # Events waiting for the projection: 16,384 instead of Faust's 4,096 gave 1.05x events/s over eight
        # alternated rounds (bench/RESULTS.md); what they may weigh is bounded by the byte budget (consumer.py).
        stream_buffer_maxsize=16_384,
        web_enabled=True,
        web_bind=settings.http_host,
        web_port=settings.http_port,
        web_tables_enabled=False,
        Monitor=LeanMonitor,
    )
    consumer.install(app, buffer_bytes=settings.stream_buffer_mib * 2**20)
    raw = {"schema": RawBytes(), "partitions": settings.partitions}
    agents.register(app, app.topic(topics.EVENTS, **raw), app.topic(topics.DEAD_LETTERS, **raw),
                    app.topic(topics.ROWS, **raw), services)
    return app
