"""ClickHouse side of CSV exports: count the users, stream their rows block by block into CSV chunks.

The SQL and the CSV text come from queries/export.py (pure); this module only runs them. Reads use
clickhouse-connect's `query_column_block_stream` with blocks of BLOCK_ROWS rows, so one block at a time
is in memory as Python values: an export's Python allocations peak near 13 MiB with 8 columns, for 100k
rows as for 1M (bench/export_bench.py); ClickHouse's default 65k-row blocks took 117 MiB, no faster.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from queries.export import ExportQuery, csv_chunks

BLOCK_ROWS = 8192


@contextmanager
def reader(client: Client) -> Iterator[Client]:
    """A client for one long read.

    chDB serialises the calls of one client, and an open stream holds that client's lock until it is
    closed: an export on the shared client would stall the sink and every API read for its whole length.
    On chDB this opens a handle of its own on the same engine and database (chDB allows many handles);
    an HTTP client already runs concurrent queries on pooled connections, so it is reused.
    """
    uri = getattr(client, "uri", "")
    if not uri.startswith("chdb:"):
        yield client
        return
    own = clickhouse_connect.get_client(dsn=f"chdb://{client.path}", database=client.database)
    try:
        yield own
    finally:
        own.close()


def count_users(client: Client, query: ExportQuery) -> int:
    return int(client.query(query.count_sql, parameters=query.count_parameters).result_rows[0][0])


def stream_csv(client: Client, query: ExportQuery, *,
               on_rows: Callable[[int], None] | None = None, guard: bool = True) -> Iterator[bytes]:
    """The export as UTF-8 CSV chunks, header first. Close the iterator early to stop the read."""
    with reader(client) as own, own.query_column_block_stream(
            query.sql, parameters=query.parameters, settings={"max_block_size": BLOCK_ROWS}) as blocks:
        yield from csv_chunks(query.columns, query.types, blocks, on_rows=on_rows, guard=guard)


def write_csv(client: Client, query: ExportQuery, target: Path, *,
              on_rows: Callable[[int], None] | None = None, guard: bool = True) -> None:
    """The export into `target`, which appears only when complete: `<target>.partial`, fsync, rename.

    On failure the partial file is removed and the error raised; a repeat overwrites `target`.
    """
    partial = target.with_name(target.name + ".partial")
    try:
        # O_NOFOLLOW: a link planted where the partial file goes is refused, never written through
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644), "wb") as out:
            for chunk in stream_csv(client, query, on_rows=on_rows, guard=guard):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
