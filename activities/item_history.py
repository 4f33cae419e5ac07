"""ItemHistory: how often an item (SKU and serial) was repaired in the merchant's earlier cases.

The three guarantees give an exchange or a return on the claim after two repairs of the same item
(STANDARDS S15.3). The count is read from the record before each request that names the item,
and the answer stays in the case's history, so a replay counts the same however the record grows.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
from temporalio import activity

from activities.contracts import ItemQuery
from cases.platform.models import ItemRepairs

# Repairs carried out (fixed or not) in the merchant's cases about this item, the asking case's
# earlier rounds included. The partial index of sql/014_item_repairs.sql finds those cases.
_COUNT = """
SELECT count(*) FROM case_events e JOIN cases c ON c.case_id = e.case_id
WHERE c.merchant_id = $1 AND c.state -> 'order' ->> 'sku' = $2 AND c.state -> 'order' ->> 'serial' = $3
  AND e.type = 'repair_result'
"""


class RepairRecord(Protocol):
    async def repairs(self, query: ItemQuery) -> int: ...


class PostgresRepairRecord:
    def __init__(self, pool: asyncpg.Pool | asyncpg.Connection) -> None:
        self._pool = pool

    async def repairs(self, query: ItemQuery) -> int:
        q = query
        count = await self._pool.fetchval(_COUNT, q.merchant_id, q.sku, q.serial)
        return int(count or 0)


class MemoryRepairRecord:
    """Repairs as a test sets them: (merchant, sku, serial) -> count."""

    def __init__(self, counts: dict[tuple[str, str, str], int] | None = None) -> None:
        self.counts = counts or {}

    async def repairs(self, query: ItemQuery) -> int:
        return self.counts.get((query.merchant_id, query.sku, query.serial), 0)


class ItemHistory:
    """The `item_repairs` activity: a thin method over the record it is given."""

    def __init__(self, record: RepairRecord) -> None:
        self._record = record

    @activity.defn(name="item_repairs")
    async def repairs(self, query: ItemQuery) -> ItemRepairs:
        count = await self._record.repairs(query)
        return ItemRepairs(sku=query.sku, serial=query.serial, repairs=count)
