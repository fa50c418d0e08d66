"""All configuration in one place: environment variables with defaults, validated at start."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


BOTS_FILES = (Path("bots.toml"), Path("bots.example.toml"))  # yours, else the example's demo bot


def default_bots_file() -> Path:
    """bots.toml when there is one (in the working directory), else bots.example.toml: `make run` and every
    CLI command read the same file on a fresh clone."""
    return next((path for path in BOTS_FILES if path.exists()), BOTS_FILES[0])


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    data_dir: Path = Field(Path(".data"), validation_alias="CHATLENS_DATA_DIR",
                           description="worker state, embedded ClickHouse and the local broker")
    kafka_bootstrap: str | None = Field(None, validation_alias="KAFKA_BOOTSTRAP",
                                        description="host:port[,…] of a Kafka cluster; unset = start a local broker")
    kafka_port: int = Field(19092, ge=1024, le=65534, validation_alias="CHATLENS_KAFKA_PORT",
                            description="local broker port (its controller takes port + 1)")
    clickhouse_url: str | None = Field(None, validation_alias="CLICKHOUSE_URL",
                                       description="chdb:///path or http(s)://user:pass@host:port/db; "
                                                   "unset = chdb:///<data dir>/chdb")
    bots_file: Path = Field(default_factory=default_bots_file, validation_alias="CHATLENS_BOTS_FILE")
    http_host: str = Field("127.0.0.1", validation_alias="CHATLENS_HTTP_HOST")
    http_port: int = Field(8080, ge=1, le=65535, validation_alias="CHATLENS_HTTP_PORT")
    ingest_port: int = Field(8081, ge=1, le=65535, validation_alias="CHATLENS_INGEST_PORT",
                             description="port of `chatlens ingest` (its processes share it)")
    ingest_processes: int = Field(1, ge=1, le=64, validation_alias="CHATLENS_INGEST_PROCESSES",
                                  description="processes `chatlens ingest` starts on its port")
    access_log: bool = Field(False, validation_alias="CHATLENS_ACCESS_LOG",
                             description="log a line per HTTP request (off: the hot path writes no log)")
    admin_key: str | None = Field(None, validation_alias="CHATLENS_ADMIN_KEY",
                                  description="Bearer key for cross-bot admin endpoints such as /v1/sql")
    app_id: str = Field("chatlens", pattern=r"^[a-z][a-z0-9_-]*$", validation_alias="CHATLENS_APP_ID",
                        description="Faust app id: consumer group and changelog topic prefix")
    partitions: int = Field(4, ge=1, le=256, validation_alias="CHATLENS_PARTITIONS",
                            description="partitions of every chatlens topic")
    replication_factor: int = Field(1, ge=1, validation_alias="CHATLENS_REPLICATION_FACTOR")
    ingest_timeout_seconds: float = Field(2.5, gt=0, le=60, validation_alias="CHATLENS_INGEST_TIMEOUT_SECONDS",
                                          description="how long a request waits for Kafka before answering 503 "
                                                      "(Slack allows 3 s for an answer)")
    stream_batch_size: int = Field(2000, ge=1, le=100_000, validation_alias="CHATLENS_STREAM_BATCH_SIZE",
                                   description="events the stream folds together (a user's state is written once "
                                               "per batch)")
    stream_batch_seconds: float = Field(0.5, gt=0, le=60, validation_alias="CHATLENS_STREAM_BATCH_SECONDS",
                                        description="the longest the stream waits to fill a batch")
    stream_buffer_mib: int = Field(16, ge=1, le=4096, validation_alias="CHATLENS_STREAM_BUFFER_MIB",
                                   description="the events a worker's stream holds at once, buffered or in the batch "
                                               "being folded (large events make smaller batches)")
    sink_batch_size: int = Field(20_000, ge=1, le=1_000_000, validation_alias="CHATLENS_SINK_BATCH_SIZE",
                                 description="rows the sink writes to ClickHouse together")
    sink_batch_seconds: float = Field(0.5, gt=0, le=60, validation_alias="CHATLENS_SINK_BATCH_SECONDS",
                                      description="the longest a row waits for its batch")
    sink_batch_mib: int = Field(16, ge=1, le=4096, validation_alias="CHATLENS_SINK_BATCH_MIB",
                                description="the most the sink writes together, measured as the rows' records in "
                                            "Kafka (large events make smaller writes)")
    state_cache_mib: int = Field(32, ge=1, le=65_536, validation_alias="CHATLENS_STATE_CACHE_MIB",
                                 description="RocksDB block cache of each partition of the users' state (memory "
                                             "is this plus 2 write buffers of 16 MiB per partition)")
    late_grace_hours: float = Field(24.0, ge=0, le=24 * 30, validation_alias="CHATLENS_LATE_GRACE_HOURS",
                                    description="how late an event may arrive and still land in the right session")
    sink_enabled: bool = Field(True, validation_alias="CHATLENS_SINK",
                               description="this worker writes ClickHouse (embedded chDB: exactly one worker may)")
    session_timeout_seconds: float = Field(30.0, ge=6, le=300, validation_alias="CHATLENS_SESSION_TIMEOUT_SECONDS",
                                           description="Kafka group session timeout: how soon a dead worker's "
                                                       "partitions move")
    worker_name: str = Field("worker", pattern=r"^[A-Za-z0-9_-]+$", validation_alias="CHATLENS_WORKER_NAME",
                             description="names this worker's state directory; unique per worker on a host")
    export_retention_hours: float = Field(72.0, gt=0, le=24 * 365, validation_alias="CHATLENS_EXPORT_RETENTION_HOURS",
                                          description="finished export jobs (files and status) are removed after this")
    schedule_dir: Path | None = Field(None, validation_alias="CHATLENS_SCHEDULE_DIR",
                                      description="root of scheduled segment exports (destinations are relative "
                                                  "to it); unset = <data dir>/scheduled-exports")
    shutdown_seconds: float = Field(30.0, ge=1, le=600, validation_alias="CHATLENS_SHUTDOWN_SECONDS",
                                    description="a stop (SIGTERM, Ctrl-C, a crash) ends the worker within this")
    stall_seconds: float = Field(60.0, ge=1, le=3600, validation_alias="CHATLENS_STALL_SECONDS",
                                 description="/health is degraded when a partition with lag has not advanced "
                                             "for this long")
    sql_timeout_seconds: float = Field(20.0, gt=0, le=3600, validation_alias="CHATLENS_SQL_TIMEOUT_SECONDS",
                                       description="/v1/sql: ClickHouse stops a query after this long")
    sql_max_rows: int = Field(100_000, ge=1, le=100_000_000, validation_alias="CHATLENS_SQL_MAX_ROWS",
                              description="/v1/sql: a result with more rows is refused (add a LIMIT)")
    sql_concurrency: int = Field(2, ge=1, le=64, validation_alias="CHATLENS_SQL_CONCURRENCY",
                                 description="/v1/sql queries at once; more are answered 429, so analysts never "
                                             "starve the Users page")
    csv_formula_guard: bool = Field(True, validation_alias="CHATLENS_CSV_FORMULA_GUARD",
                                    description="prefix text cells that start with = + - @ tab or CR with ' in every "
                                                "CSV (spreadsheet formula injection); false for machine consumers")
    body_timeout_seconds: float = Field(30.0, gt=0, le=600, validation_alias="CHATLENS_BODY_TIMEOUT_SECONDS",
                                        description="a webhook or events body that takes longer to arrive is a 408")
    log_level: str = Field("info", pattern=r"^(debug|info|warning|error)$", validation_alias="CHATLENS_LOG_LEVEL")

    @field_validator("kafka_bootstrap", "clickhouse_url", "admin_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("clickhouse_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("chdb:", "http://", "https://")):
            raise ValueError(f"CLICKHOUSE_URL must start with chdb:, http:// or https:// (got {value!r})")
        return value

    @field_validator("schedule_dir", mode="before")
    @classmethod
    def _blank_dir_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _absolute_data_dir(self) -> Settings:
        object.__setattr__(self, "data_dir", self.data_dir.expanduser().resolve())
        schedule_dir = (self.schedule_dir or self.data_dir / "scheduled-exports").expanduser().resolve()
        if schedule_dir.exists() and not schedule_dir.is_dir():
            raise ValueError(f"CHATLENS_SCHEDULE_DIR must be a directory (got the file {schedule_dir})")
        object.__setattr__(self, "schedule_dir", schedule_dir)
        return self

    @property
    def uses_local_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @cached_property
    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @cached_property
    def clickhouse_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{self.data_dir / 'chdb'}"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def worker_dir(self) -> Path:
        return self.data_dir / "workers" / self.worker_name


def load_settings() -> Settings:
    return Settings()
