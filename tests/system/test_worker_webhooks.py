"""`aftersales worker` delivers webhooks with no other process: two real worker processes on one
task queue and one database, a case opened through the dev server, and its subscribed events
reaching a real receiver signed, once each, with one worker starting the deliveries.
"""

from __future__ import annotations

import uuid

import pytest

from activities.webhooks.subscriptions import WebhookSubscriptions
from starter.client import CaseClient
from tests.support.eventually import eventually
from tests.support.factories import intake
from tests.support.outbox_helpers import fresh_database
from tests.support.webhook_receiver import Receiver
from tests.system.test_worker_dispatch import stop_gracefully, worker_processes

pytestmark = pytest.mark.devserver


async def test_workers_deliver_each_subscribed_event_once(dev_server, dev_client, postgres_dsn, tmp_path):
    task_queue = f"webhooks-{uuid.uuid4()}"
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    receiver = Receiver(fail_first=1)
    async with fresh_database(postgres_dsn) as (dsn, pool), receiver.serving():
        made = await WebhookSubscriptions(pool).add(receiver.url("orders"), "opened,acknowledged")
        receiver.secrets["orders"] = made.secret
        env = {"TEMPORAL_ADDRESS": dev_server.address, "DATABASE_URL": dsn, "AFTERSALES_TASK_QUEUE": task_queue}
        async with worker_processes(logs, env) as procs:
            client = CaseClient(dev_client, task_queue)
            case = intake()
            await client.open(case)
            await client.act(case.case_id, "acknowledge", {"actor": "agent-7"})
            delivered = await eventually(
                lambda: pool.fetch("SELECT webhook_id, event_type, attempts FROM webhook_deliveries"
                                   " WHERE case_id = $1 AND status = 'delivered' ORDER BY seq", case.case_id),
                lambda rows: len(rows) == 2, "both subscribed events delivered by a worker", timeout=120,
            )
            # Read before stopping: once the leader has gone, the other may lead for a moment.
            leaders = "".join(log.read_text(errors="replace") for log in logs).count("webhook starter leading")
            codes = await stop_gracefully(procs)
    assert codes == [0, 0]
    assert [r["event_type"] for r in delivered] == ["opened", "acknowledged"]
    assert all(r["attempts"] == 2 for r in delivered)  # refused once, then accepted
    accepted = [r for r in receiver.for_path("orders") if r.answered == 200]
    assert sorted(r.webhook_id for r in accepted) == sorted(r["webhook_id"] for r in delivered)
    assert all(r.payload["data"]["case_id"] == case.case_id for r in accepted)
    assert leaders == 1
