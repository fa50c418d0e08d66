"""Batch writes that retry until they succeed: offsets are committed only after the store has the rows.

Faust acks a batch even when the agent raises, so a failed write must never escape the loop: it is
retried with capped exponential back-off, and its state is reported on /health meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

from schemas.events import utc_now

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SinkStatus:
    ok: bool = True
    rows_written: int = 0
    batches_written: int = 0
    failing_since: str | None = None
    attempts: int = 0
    last_error: str | None = None


class RetryingWriter(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], int], *, status: SinkStatus | None = None,
                 first_delay: float = 0.2, max_delay: float = 10.0):
        self._write = write
        self.status = status or SinkStatus()
        self.first_delay = first_delay
        self.max_delay = max_delay

    async def write(self, batch: Sequence[T]) -> int:
        """Returns rows written; only cancellation (shutdown) stops the retries, leaving offsets uncommitted."""
        delay = self.first_delay
        while True:
            try:
                written = await asyncio.to_thread(self._write, batch)
            except Exception as e:  # noqa: BLE001 - any store failure is retried, never dropped
                self.status.ok = False
                self.status.attempts += 1
                self.status.failing_since = self.status.failing_since or utc_now().isoformat()
                self.status.last_error = f"{type(e).__name__}: {str(e)[:300]}"
                log.warning("sink write failed (attempt %d), retrying in %.1fs: %s",
                            self.status.attempts, delay, self.status.last_error)
                await asyncio.sleep(delay)
                delay = min(self.max_delay, delay * 2)
                continue
            self.status.ok, self.status.attempts, self.status.failing_since = True, 0, None
            self.status.rows_written += written
            self.status.batches_written += 1
            return written
