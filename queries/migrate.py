"""Applies queries/migrations/NNNN_*.sql in order, once each, recorded in schema_migrations.

Files are idempotent too (IF NOT EXISTS), so a crash between a file and its record is harmless.
"""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")


def migration_files() -> list[tuple[str, str]]:
    files = sorted(f.name for f in MIGRATIONS.iterdir() if _NAME.match(f.name))
    return [(name, (MIGRATIONS / name).read_text()) for name in files]


def statements(sql: str) -> list[str]:
    """Split a file on ';' at line ends, dropping comment-only pieces."""
    pieces = re.split(r";\s*(?:\n|$)", sql)
    out = []
    for piece in pieces:
        body = "\n".join(line for line in piece.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            out.append(body)
    return out


def migrate(client) -> list[str]:
    """Apply pending migrations with a clickhouse-connect client; returns the names applied now."""
    client.command("CREATE TABLE IF NOT EXISTS schema_migrations "
                   "(name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
                   "ENGINE = ReplacingMergeTree ORDER BY name")
    done = {row[0] for row in client.query("SELECT name FROM schema_migrations").result_rows}
    applied = []
    for name, sql in migration_files():
        if name in done:
            continue
        for statement in statements(sql):
            client.command(statement)
        client.insert("schema_migrations", [[name]], column_names=["name"])
        applied.append(name)
    return applied
