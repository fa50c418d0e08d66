"""Faust's Monitor without its statistics per message (we report progress from group lag, not from it).

Faust's monitor counts, times and files every message and event under stream and task names, four calls per
event: 1.7 % of a worker's time holding the GIL (py-spy --gil). Kept: the stream's inbound time per
partition, which Faust's consumer reads to warn of a stalled stream.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors import Monitor


class LeanMonitor(Monitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        pass

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
        pass

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        pass
