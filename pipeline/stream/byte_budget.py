"""A limit on the bytes of events a stream holds: handed to it and not yet acknowledged.

Faust bounds a stream by records: its buffer holds a count of them (4,096 by default) and the projection
takes batches of 2,000, whatever their size. Events may have up to 384 KiB each, so a flood of large events
filled a worker with them: 2,000 events of 256 KB took it to 4.9 GiB, 2,000 and 6,000 of 786 KB (JSON-escaped
by a producer writing straight to Kafka) to 7.3 and 15.3 GiB (each event's bytes are kept several times
over while its batch is folded, its rows sent and written). Held to a budget of bytes,
a batch of large events is a few dozen of them; ordinary traffic (hundreds of bytes an event) never
reaches the budget and is delivered as before. See pipeline.stream.consumer for where it applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from pipeline.stream.waits import woken

log = logging.getLogger(__name__)


class ByteBudget:
    """Bytes held (`take` on delivery, `give` on acknowledgement) against a limit.

    An event that does not fit waits until enough are acknowledged; one alone is always let through
    (an event larger than the whole budget still flows, one at a time). While it waits the count is
    checked against `recount` (the bytes really held) every `check_seconds`, so a drifting count can
    slow a stream down for a moment but never stop it.
    """

    def __init__(self, limit: int, check_seconds: float = 1.0):
        if limit < 1:
            raise ValueError(f"a byte budget needs a positive limit, got {limit}")
        self.limit, self.check_seconds = limit, check_seconds
        self.held = 0
        self._room: asyncio.Event | None = None

    def fits(self, size: int) -> bool:
        return self.held == 0 or self.held + size <= self.limit

    def take(self, size: int) -> None:
        self.held += size

    def give(self, size: int) -> None:
        self.held = max(0, self.held - size)
        if self._room is not None and self.held < self.limit:
            self._room.set()

    def reset(self, held: int) -> None:
        """The count as it really is (after Faust dropped buffered events at a rebalance)."""
        self.held = held
        if self._room is not None:
            self._room.set()

    async def room_for(self, size: int, recount: Callable[[], int]) -> None:
        """Return once `size` more bytes fit."""
        while not self.fits(size):
            self._room = room = asyncio.Event()
            try:
                if not await woken(room, self.check_seconds) and (held := recount()) != self.held:
                    log.warning("stream byte budget: %d bytes counted as held, %d really are; corrected",
                                self.held, held)
                    self.held = held
            finally:
                if self._room is room:
                    self._room = None
