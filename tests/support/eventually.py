"""The suite's one polling helper: wait for a condition that the system reaches on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    read: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    what: str,
    timeout: float = 30.0,
    interval: float = 0.05,
) -> T:
    """Poll `read` until `ok` holds and return that value; fail naming `what` and the last value.

    The timeout bounds a wait for something that must happen, not a speed: it is sized for a
    loaded machine, and only a system that never gets there reaches it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await read()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)
