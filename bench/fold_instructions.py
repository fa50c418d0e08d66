"""`make bench`: the stream's fold in instructions per event (callgrind), a figure this machine's load cannot move.

Times on the shared 2-core machine spread ±10 % between runs, which hides a change of a few per cent; the
instructions the fold executes are the same from run to run to the last one (callgrind, hash seed fixed). The
fold is pipeline.stream.fold_batch over the first N events (default 20,000) of the stream bench's straight-to-Kafka
traffic (bench/traffic.py), in batches of 2,000 against a table that lives between them; sentiment scores are
looked up (VADER is scored once beforehand: the fold, not VADER, is measured). The count of a child that stops
before folding (start-up and loading) is subtracted. Needs valgrind (`make bench` installs Debian's).
Results are printed and appended to bench/RESULTS.md with the machine named.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.pipeline_bench import machine, report
from pipeline.kafka.codecs import decode_state
from pipeline.stream.fold_batch import fold_batch

VALGRIND = "/usr/bin/valgrind"
BATCH = 2_000
STREAM_RUN = 50_000   # events in a run of bench/stream_bench.py; its first ones are folded here


def prepare(path: Path, events: int) -> None:
    """The stream bench's traffic as the events topic carries it, and the score of every inbound text."""
    from bench.traffic import traffic
    from pipeline.core.sentiment import score
    run = traffic("kafka", 2_000, max(events, STREAM_RUN), seed=2, busiest=5_000)   # the stream bench's run
    received = datetime(2026, 12, 5, tzinfo=UTC).isoformat()
    values = [json.dumps({**e, "received_at": received}).encode() for e in run.events]
    scores = {e["text"]: score(e["text"]) for e in run.events if e.get("direction") == "inbound"}
    path.write_bytes(pickle.dumps((values, scores)))


def fold_into(table: dict[bytes, bytes], values: list[bytes], score) -> list[dict]:
    """One batch folded as the projection agent folds it, `table` standing in for its users table (states and id
    index); returns the batch's rows."""
    folded = fold_batch(((None, v) for v in values), lambda _, key: decode_state(table.get(key)), score=score,
                        window_for=lambda _: timedelta(minutes=10), grace=timedelta(hours=24),
                        read=lambda _, key: table.get(key))
    table.update({key: value for _, key, value in folded.index})
    table.update({key: state for key, (_, state) in folded.states.items()})
    return folded.rows


def fold(path: Path, events: int) -> None:
    """The child's work: load, then fold the first `events` events (none: only start-up and loading)."""
    values, scores = pickle.loads(path.read_bytes())
    table: dict[bytes, bytes] = {}
    for start in range(0, events, BATCH):
        fold_into(table, values[start:min(start + BATCH, events)], scores.get)


def instructions(path: Path, events: int) -> int:
    """What callgrind counted for a child that folds `events` events."""
    done = subprocess.run([VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                           "bench.fold_instructions", "--child", str(path), "--events", str(events)],
                          env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fold(args.child, args.events)
        return
    if not os.access(VALGRIND, os.X_OK):
        sys.exit(f"this bench needs valgrind at {VALGRIND}: apt-get install -y valgrind (make bench does)")
    with tempfile.TemporaryDirectory(prefix="chatlens-fold-instructions-") as tmp:
        path = Path(tmp) / "traffic.pickle"
        prepare(path, args.events)
        print(f"counting the fold of {args.events:,} events under callgrind (about a minute for 20,000 events)...")
        base, total = instructions(path, 0), instructions(path, args.events)
    per_event = (total - base) / args.events
    report([f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — fold instructions — {machine()}", "",
            f"- the stream's fold (`fold_batch`, batches of {BATCH:,}) of the first {args.events:,} events of the "
            f"stream bench's traffic: **{per_event:,.0f} instructions per event** (callgrind, PYTHONHASHSEED=0; "
            f"start-up and loading, {base:,}, subtracted)", ""])


if __name__ == "__main__":
    main()
