"""Named timeouts and retry policies for every activity call the workflow makes.

Writes to our own database and notifications retry without limit, because giving up would lose
data; provider calls that move money or goods retry a bounded number of times and treat a
provider's explicit refusal as final, so the saga can compensate and hand the case to a person.
"""

from datetime import timedelta

from temporalio.common import RetryPolicy

from activities.contracts import Declined

RECORD_TIMEOUT = timedelta(seconds=15)
PROVIDER_TIMEOUT = timedelta(seconds=30)
POLICY_TIMEOUT = timedelta(seconds=10)
# How long the record may retry as a local activity before it goes on as an ordinary one.
LOCAL_RECORD_LIMIT = timedelta(seconds=60)

# Our own store: an outage must delay the case, never drop an audit event.
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
)

NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)

# Refunds, shipments, visits: a bounded effort, then the step counts as failed for good.
PROVIDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=8,
    non_retryable_error_types=[d.value for d in Declined],
)

# Undoing a completed step must eventually succeed, or money stays out of balance.
COMPENSATION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=0,
)

POLICY_RETRY = RetryPolicy(maximum_attempts=3)

# Outbound webhooks: one attempt is one HTTP request, bounded by its own timeout. A subscriber's
# outage delays its events and never drops them, until it has been out for WEBHOOK_EXPIRY.
WEBHOOK_ATTEMPT_TIMEOUT = timedelta(seconds=30)
WEBHOOK_EXPIRY = timedelta(days=3)
WEBHOOK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=0,
)
