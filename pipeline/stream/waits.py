"""Waiting for an event with a deadline: the stream's waits (byte budget, buffer gates) look again on their own
at what they wait for when no one wakes them, so a lost wake-up slows a stream and never stops it."""

from __future__ import annotations

import asyncio


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """True once `event` is set, False if `seconds` pass first."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True
