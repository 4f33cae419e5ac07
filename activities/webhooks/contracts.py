"""The webhook delivery workflow's input and result, its name, and its id: pure, so the workflow,
the activity and the starter (which may not import the workflow) agree on them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

WEBHOOK_WORKFLOW = "WebhookDelivery"
# record_case notifies it when it wrote deliveries; the starter listens.
WEBHOOK_CHANNEL = "aftersales_webhooks"


class WebhookTask(BaseModel):
    delivery_id: int
    subscription_id: str
    webhook_id: str


class WebhookOutcome(BaseModel):
    delivery_id: int
    # delivered, cancelled (subscription removed), expired, or already the row's final status.
    status: str
    attempts: int
    status_code: int | None = None
    delivered_at: datetime | None = None


def webhook_workflow_id(task: WebhookTask) -> str:
    # Named by subscription and event rather than by row id, so two databases on one namespace
    # (or one restored from a backup) cannot collide, and a second start of the same delivery is
    # refused by Temporal.
    return f"webhook-{task.subscription_id}-{task.webhook_id}"
