"""Deliveries into a full stream buffer held back until it has drained, not let in one slot at a time.

Faust puts each message into its stream's buffer; once the buffer is full, every delivery waits for one
free slot: the agent takes an event, one delivery goes in, the next finds the buffer full again. Each such
wait costs Faust's slow path (a task and an `asyncio.wait` for the full buffer, and the consumer's
`wait_first` that lets a rebalance interrupt it: four tasks more). A worker whose agent is the slower side
has a full buffer nearly all the time: in Faust's no-op floor one delivery in seven waited, and its process
spent 33 µs of CPU per event, 24 µs with the gates. A gate closes when Faust reports the buffer under high
pressure (`on_buffer_full`, at 80 % of it) and opens when Faust reports it drained (`on_buffer_drop`, at
40 %); deliveries wait at a closed gate, so one wait lets thousands of messages in. See
pipeline.stream.consumer for where they apply.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable

from pipeline.stream.waits import woken

log = logging.getLogger(__name__)


class BufferGates:
    """One gate per partition, open unless `close`d. A delivery waiting at a closed gate asks `drained()`
    every `check_seconds`, so a drop report that never comes can slow a partition for a moment but never
    stop it."""

    def __init__(self, check_seconds: float = 1.0):
        self.check_seconds = check_seconds
        self._gates: dict[Hashable, asyncio.Event] = {}

    def is_open(self, partition: Hashable) -> bool:
        gate = self._gates.get(partition)
        return gate is None or gate.is_set()

    def close(self, partition: Hashable) -> None:
        gate = self._gates.get(partition)
        if gate is None:
            gate = self._gates[partition] = asyncio.Event()
        gate.clear()

    def open(self, partition: Hashable) -> None:
        gate = self._gates.get(partition)
        if gate is not None:
            gate.set()

    def open_all(self) -> None:
        for gate in self._gates.values():
            gate.set()

    async def wait(self, partition: Hashable, drained: Callable[[], bool]) -> None:
        """Return once the partition's gate is open."""
        gate = self._gates.get(partition)
        while gate is not None and not await woken(gate, self.check_seconds):
            if drained():
                log.warning("stream buffer gate of %s: closed though the buffer has drained; opened", partition)
                gate.set()
