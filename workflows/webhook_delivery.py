"""WebhookDelivery: one webhook delivery row, sent until its subscriber accepts it (STANDARDS S13.4).

One activity, retried by Temporal under `WEBHOOK_RETRY` (exponential backoff, no attempt limit)
for up to `WEBHOOK_EXPIRY`; past that the row is marked expired. The worker's webhook starter
starts one per row, under an id named by subscription and event, so a second start of the same
delivery is refused by the server rather than sending twice.
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks.contracts import WEBHOOK_WORKFLOW, WebhookOutcome, WebhookTask
    from activities.webhooks.delivery import WebhookDeliveries
    from workflows import retry_policies as rp


@workflow.defn(name=WEBHOOK_WORKFLOW)
class WebhookDelivery:
    @workflow.run
    async def run(self, task: WebhookTask) -> WebhookOutcome:
        try:
            return await workflow.execute_activity_method(
                WebhookDeliveries.deliver,
                task,
                start_to_close_timeout=rp.WEBHOOK_ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=rp.WEBHOOK_EXPIRY,
                retry_policy=rp.WEBHOOK_RETRY,
                summary=f"deliver {task.webhook_id}",
            )
        except ActivityError:
            # Nothing the activity raises is final, so only the expiry ends its retries.
            return await workflow.execute_activity_method(
                WebhookDeliveries.expire,
                task,
                start_to_close_timeout=rp.RECORD_TIMEOUT,
                retry_policy=rp.STORE_RETRY,
                summary=f"expire {task.webhook_id}",
            )
