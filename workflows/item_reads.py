"""Reading an item's earlier repairs from the record, for the law's count (STANDARDS S15.3).

A local activity, before each request that names an item: at open when the intake's request
names it, and before a request on an open case. Its answer is in the history, so a replay reads
the same count.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ItemQuery
    from activities.item_history import ItemHistory
    from cases.platform.models import ItemRepairs
    from workflows import retry_policies as rp


async def read(merchant_id: str, item: tuple[str, str] | None) -> ItemRepairs | None:
    if item is None:
        return None
    sku, serial = item
    return await workflow.execute_local_activity_method(
        ItemHistory.repairs,
        ItemQuery(merchant_id=merchant_id, sku=sku, serial=serial),
        start_to_close_timeout=rp.POLICY_TIMEOUT,
        # Our own store: an outage delays the request, never fails the case.
        retry_policy=rp.STORE_RETRY,
        summary="count the item's earlier repairs",
    )
