"""`make bench`, part three: CSV export of 1M synthetic users from embedded chDB to a file.

Eight columns including a custom attribute and tags, through the code the API runs
(consumers.exports.stream_csv). Reports rows/s and memory two ways: the process's peak resident set
(getrusage ru_maxrss, so the embedded ClickHouse engine counts too) as a rise over the level before
the export, and the peak of Python allocations (tracemalloc, a second untimed pass). Both are read
after the first 100,000 rows and at the end: flat memory means the end is about the same. The users
are loaded by a child process, so loading does not lift this process's peak. Appends to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from bench.pipeline_bench import machine, report
from bench.query_bench import NOW, synthetic
from consumers.clickhouse import connect
from consumers.exports import stream_csv
from queries.export import compile_export
from schemas.filters import Group
from tests.support.user_rows import insert_users

COLUMNS = ["user_id", "name", "email", "country", "last_seen", "sessions", "attributes.plan", "tags"]
EARLY = 100_000      # memory is also read when this many rows are written: flat means the end is about the same
MIB = 2**20


def load(path: Path, users: int) -> None:
    client = connect(f"chdb://{path}")
    rng = random.Random(1)
    for offset in range(0, users, 100_000):
        insert_users(client, synthetic(min(100_000, users - offset), "bench", rng, first=offset))
    insert_users(client, synthetic(50_000, "other", rng))   # another tenant in the same table


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux


def export(client, query, out: Path | None, peak) -> dict:
    """Write the CSV to `out` (or nowhere); rows, seconds, and `peak()` after EARLY rows and at the end."""
    rows, early = 0, None
    started = time.perf_counter()
    with (out.open("wb") if out else open("/dev/null", "wb")) as file:
        for chunk in stream_csv(client, query):
            file.write(chunk)
            rows += chunk.count(b"\n")      # no value in these columns holds a line break
            if early is None and rows > EARLY:
                early = peak()
    return {"rows": rows - 1, "seconds": time.perf_counter() - started, "early": early, "end": peak()}


def run(users: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="chatlens-xbench-") as tmp:
        store, out = Path(tmp) / "chdb", Path(tmp) / "users.csv"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench.export_bench", "--load", str(store), "--users", str(users)],
                       check=True)
        load_seconds = time.perf_counter() - started
        client = connect(f"chdb://{store}")
        assert client.query("SELECT count() FROM users FINAL WHERE bot_id = 'bench'").result_rows == [(users,)]
        query = compile_export("bench", Group(), COLUMNS, now=NOW)
        baseline = peak_rss()
        timed = export(client, query, out, peak_rss)
        assert timed["rows"] == users, timed
        size = out.stat().st_size
        tracemalloc.start()
        traced = export(client, query, None, lambda: tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return {"users": users, "load_s": load_seconds, "bytes": size, "baseline": baseline, **timed,
            "python_early": traced["early"], "python_end": traced["end"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)   # the child process: load, then exit
    args = parser.parse_args()
    if args.load:
        load(args.load, args.users)
        return
    r = run(args.users)
    lines = [f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — CSV export — {machine()}", "",
             f"- {r['users']:,} users of one bot (+50,000 of another) in embedded chDB, loaded in {r['load_s']:.0f} s; "
             f"8 columns: {', '.join(COLUMNS)}",
             f"- export of all {r['rows']:,} users to a file ({r['bytes'] / MIB:.0f} MiB of CSV): "
             f"**{r['rows'] / r['seconds']:,.0f} rows/s** ({r['seconds']:.1f} s)",
             f"- peak resident memory (ru_maxrss: the whole process, embedded ClickHouse engine included), rise over "
             f"the {r['baseline'] / MIB:.0f} MiB before the export: **+{(r['early'] - r['baseline']) / MIB:.0f} MiB** "
             f"after {EARLY:,} rows, **+{(r['end'] - r['baseline']) / MIB:.0f} MiB** at the end",
             f"- peak of Python allocations (tracemalloc, a second untimed pass): "
             f"**{r['python_early'] / MIB:.1f} MiB** after {EARLY:,} rows, **{r['python_end'] / MIB:.1f} MiB** at the end", ""]
    report(lines)


if __name__ == "__main__":
    main()
