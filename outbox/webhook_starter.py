"""Webhook starter: starts one `WebhookDelivery` workflow per delivery row not yet started.

It leads as every `LeaderLoop` does (outbox/leader.py): one in each worker, one of them leading,
woken by `LISTEN aftersales_webhooks` (record_case notifies when it wrote deliveries) and by a
poll, for a NOTIFY missed while nobody listened and for starts that failed.

A row is marked started only after Temporal took the start, on the lead session. A crash between
the two leaves the row unmarked, and the next leader starts it again: the workflow id is named by
subscription and event and starts refuse a duplicate, even of a closed run, so the repeat only
marks the row. Two leaders at once (a lock lost and retaken) are as harmless, for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.webhooks.contracts import WEBHOOK_CHANNEL, WEBHOOK_WORKFLOW, WebhookTask, webhook_workflow_id
from outbox.leader import Connect, LeaderLoop, in_background
from runtime.log import get_logger

# Any constant works, as long as every starter of one database uses the same one (and it is not
# the dispatcher's).
LOCK_ID = 0x0AF7_0B0D
# A hung frontend must not hold the lead (and a stop) for long; the row is simply tried again.
START_TIMEOUT = timedelta(seconds=10)

_UNSTARTED = (
    "SELECT id, subscription_id, webhook_id FROM webhook_deliveries"
    " WHERE started_at IS NULL AND status = 'pending' ORDER BY id LIMIT $1"
)
_MARK = "UPDATE webhook_deliveries SET started_at = now() WHERE id = ANY($1::bigint[]) AND started_at IS NULL"

log = get_logger("aftersales.webhooks")


class WebhookStarter(LeaderLoop):
    role = "webhook starter"

    def __init__(
        self,
        connect: Connect,
        client: Client,
        task_queue: str,
        *,
        poll_interval: float = 2.0,
        batch: int = 200,
        concurrency: int = 16,
        lock_id: int = LOCK_ID,
    ) -> None:
        super().__init__(connect, lock_id=lock_id, channel=WEBHOOK_CHANNEL, poll_interval=poll_interval, log=log)
        self._client = client
        self._task_queue = task_queue
        self._batch = batch
        self._starts = asyncio.Semaphore(concurrency)

    async def _lead(self, conn: asyncpg.Connection) -> None:
        async with self._listening(conn):
            while not self._stopping.is_set():
                self._check_session(conn)
                rows = await conn.fetch(_UNSTARTED, self._batch)
                started = [i for i in await asyncio.gather(*(self._start(r) for r in rows)) if i is not None]
                if started:
                    await conn.execute(_MARK, started)
                if rows and len(started) == len(rows) == self._batch:
                    continue  # a backlog: take the next batch at once
                await self._until_woken()

    async def _start(self, row: asyncpg.Record) -> int | None:
        """The row's id once its workflow exists (started now or before), else None."""
        task = WebhookTask(delivery_id=row["id"], subscription_id=row["subscription_id"],
                           webhook_id=row["webhook_id"])
        async with self._starts:
            try:
                await self._client.start_workflow(
                    WEBHOOK_WORKFLOW,
                    task,
                    id=webhook_workflow_id(task),
                    task_queue=self._task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"webhook {task.webhook_id} to {task.subscription_id}",
                    rpc_timeout=START_TIMEOUT,
                )
            except WorkflowAlreadyStartedError:
                pass
            except (RPCError, TimeoutError) as err:
                # Temporal is out of reach: the row stays unmarked and the next round tries again.
                log.warning("webhook start failed", delivery_id=task.delivery_id, error=type(err).__name__)
                return None
        return task.delivery_id


@contextlib.asynccontextmanager
async def starting(starter: WebhookStarter | None) -> AsyncIterator[None]:
    """Run `starter` in the background for the block (nothing, for None); stop it after."""
    async with in_background(starter, "webhook-starter"):
        yield
