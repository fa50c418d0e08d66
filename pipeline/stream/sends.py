"""Sending a batch's records from the stream with bounded retries, so no record can stop a partition.

An outage (a retriable Kafka error: broker away, timeouts) is waited out for as long as it lasts,
reported on /health meanwhile; nothing is acknowledged until every record is out. A record Kafka
refuses for what it is (too large, invalid) is tried `attempts` times, then handed to `on_refused`
(the dead-letter topic) and the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from faust.exceptions import ProducerSendError

from consumers.sink import SinkStatus
from schemas.events import utc_now

log = logging.getLogger(__name__)
Record = tuple[Any, bytes]  # (where it goes: a key, or a partition; the value)
Send = Callable[[Any, bytes], Awaitable[Awaitable]]


def is_outage(error: BaseException) -> bool:
    """Retriable: worth waiting for. A refusal of the record itself is not."""
    cause = error.__cause__ if isinstance(error, ProducerSendError) and error.__cause__ else error
    if isinstance(cause, (KafkaConnectionError, KafkaTimeoutError, TimeoutError, ConnectionError)):
        return True
    return isinstance(cause, KafkaError) and bool(getattr(cause, "retriable", False))


async def _attempt(send: Send, records: Sequence[Record]) -> list[BaseException | None]:
    started: list[Awaitable | BaseException] = []
    for key, value in records:  # sent in order; their acknowledgements awaited together
        try:
            started.append(await send(key, value))
        except Exception as e:  # noqa: BLE001 - classified below
            started.append(e)
    results = await asyncio.gather(*(_settle(s) for s in started))
    return list(results)


async def _settle(started: Awaitable | BaseException) -> BaseException | None:
    if isinstance(started, BaseException):
        return started
    try:
        await started
        return None
    except Exception as e:  # noqa: BLE001 - classified by the caller
        return e


async def send_all(send: Send, records: Sequence[Record], *, status: SinkStatus,
                   on_refused: Callable[[Record, str], Awaitable[None]], attempts: int = 3,
                   first_delay: float = 0.2, max_delay: float = 5.0) -> None:
    """Returns once every record is in Kafka or refused for good; only cancellation stops it sooner."""
    pending, refusals, delay = list(records), [0] * len(records), first_delay
    while pending:
        results = await _attempt(send, pending)
        retry, retry_refusals = [], []
        for record, refused, error in zip(pending, refusals, results):
            if error is None:
                status.rows_written += 1
                continue
            reason = f"{type(error).__name__}: {str(error)[:300]}"
            if not is_outage(error) and refused + 1 >= attempts:
                log.error("record of %d bytes refused by Kafka %d times, dead-lettered: %s",
                          len(record[1]), attempts, reason)
                await on_refused(record, reason)
                continue
            retry.append(record)
            retry_refusals.append(refused + (not is_outage(error)))
            status.ok, status.last_error = False, reason
            status.failing_since = status.failing_since or utc_now().isoformat()
        pending, refusals = retry, retry_refusals
        if pending:
            status.attempts += 1
            log.warning("%d records not sent (attempt %d), retrying in %.1fs: %s",
                        len(pending), status.attempts, delay, status.last_error)
            await asyncio.sleep(delay)
            delay = min(max_delay, delay * 2)
    status.ok, status.attempts, status.failing_since = True, 0, None
    status.batches_written += 1
