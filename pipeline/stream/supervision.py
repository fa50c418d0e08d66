"""No part sits crashed behind a green health, and a stop always ends.

A crash of an agent or a task marks its status, logs it loudly and stops the worker with exit
code 1, for a supervisor (`chatlens run`, systemd, Kubernetes) to start it again: a restarted
worker reads on from the committed offsets, and the fold ignores what it already applied.
A stop (SIGTERM, Ctrl-C or a crash) that has not ended after `deadline` seconds — Faust waits for
every unacknowledged record, which may never come — ends the process anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import faust

from consumers.sink import SinkStatus

log = logging.getLogger(__name__)
CRASHED = 1  # exit code of a worker stopped by a crash


@asynccontextmanager
async def guarded(name: str, status: SinkStatus, on_crash: Callable[[BaseException], None]) -> AsyncIterator[None]:
    """Whatever escapes the block crashes the worker, after /health was told."""
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as e:
        status.ok, status.crashed = False, True
        status.last_error = f"{type(e).__name__}: {str(e)[:300]}"
        log.critical("%s crashed (%s): stopping the worker so that it is started again", name, status.last_error)
        on_crash(e)
        raise


class Worker(faust.Worker):
    """Faust's worker whose stop ends within `deadline` seconds, and whose crash exits with CRASHED."""

    def __init__(self, *args, deadline: float, **kwargs):
        super().__init__(*args, **kwargs)
        # Faust's startup spinner, at WARNING and above, sets the root logger to DEBUG for good: every debug
        # call of aiokafka, Faust and mode then builds a record (1.6-4.1 % of a loaded worker's samples).
        self.spinner = None
        self.deadline = deadline
        self.exit_code = 0
        self._watchdog: threading.Timer | None = None

    def _on_sigint(self) -> None:
        self._arm()
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self._arm()
        super()._on_sigterm()

    def fail(self, reason: BaseException) -> None:
        """Stop because a part crashed: the exit code tells a supervisor to start the worker again."""
        self.exit_code = CRASHED
        self._arm()
        self._schedule_shutdown(signal.SIGTERM)

    def _arm(self) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.deadline, self._exit_now)
            self._watchdog.daemon = True
            self._watchdog.start()

    def _exit_now(self) -> None:
        log.error("the worker did not stop within %.0fs (records still pending); exiting now, nothing "
                  "unacknowledged is committed, so it is read again on the next start", self.deadline)
        logging.shutdown()
        os._exit(self.exit_code)
