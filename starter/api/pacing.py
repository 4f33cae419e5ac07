"""How fast batch starts go: at most the API's batch rate per merchant (STANDARDS S14.5).

One merchant's recall is paced on its own, so two merchants' batches sent at the same time each
get the whole rate, and two batches of the same merchant share it: the rate belongs to the
merchant, not to a request and not to the platform.
"""

from __future__ import annotations

import asyncio

# A merchant whose pace has been idle this long is forgotten; the next batch starts afresh.
_IDLE_SECONDS = 60.0


class Pace:
    """At most `rate` starts a second, spaced evenly, whatever the concurrency."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    def idle_since(self, now: float) -> bool:
        return self._next + _IDLE_SECONDS < now

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            now = loop.time()
            start = max(now, self._next)
            self._next = start + self._interval
        await asyncio.sleep(start - now)


class MerchantPaces:
    """One `Pace` per merchant, shared by every batch request of the API process."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._paces: dict[str, Pace] = {}

    def of(self, merchant_id: str) -> Pace:
        now = asyncio.get_running_loop().time()
        for idle in [m for m, p in self._paces.items() if m != merchant_id and p.idle_since(now)]:
            del self._paces[idle]
        pace = self._paces.get(merchant_id)
        if pace is None:
            pace = self._paces[merchant_id] = Pace(self._rate)
        return pace

    def __len__(self) -> int:
        return len(self._paces)
