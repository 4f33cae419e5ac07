"""Calls to our own database from workflow code: a local activity first, an ordinary one after.

While the database is down a local activity keeps its workflow task alive, and every extension
adds events to the history; past `LOCAL_RECORD_LIMIT` the same idempotent call becomes an
ordinary activity, whose retries the history does not see. The record and the roster both go
this way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows import retry_policies as rp

R = TypeVar("R")


async def local_first(method: Callable[[Any, Any], Awaitable[R]], request: Any, summary: str) -> R:
    try:
        return await workflow.execute_local_activity_method(
            method,
            request,
            start_to_close_timeout=rp.RECORD_TIMEOUT,
            schedule_to_close_timeout=rp.LOCAL_RECORD_LIMIT,
            retry_policy=rp.STORE_RETRY,
            summary=summary,
        )
    except ActivityError:
        return await workflow.execute_activity_method(
            method,
            request,
            start_to_close_timeout=rp.RECORD_TIMEOUT,
            retry_policy=rp.STORE_RETRY,
            summary=f"{summary} (after the store was out)",
        )
