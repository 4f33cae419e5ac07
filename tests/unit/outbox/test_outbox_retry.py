"""The outbox's retry arithmetic and error text, and the log sink's answer: pure, no server."""

from __future__ import annotations

import random

from activities.http_providers import ProviderError
from cases.core.effects import Audience, Notification, NotificationChannel
from outbox.retry import Backoff, describe_error
from outbox.sink import LogSink

NOTE = Notification(
    key="c9:4:result", case_id="c9", kind="result", audience=Audience.CUSTOMER,
    recipient="wang.fang@example.com", channels=[NotificationChannel.SMS, NotificationChannel.EMAIL],
    subject="Your refund of 120 CNY", body="Dear Ms Wang, your refund RF-77 is on its way.",
)


def test_the_wait_doubles_up_to_the_cap_and_never_ends() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.delay(10_000) == 60.0


def test_jitter_only_shortens_the_wait_and_by_at_most_its_share() -> None:
    backoff = Backoff(base=1.0, cap=60.0, jitter=0.2)
    rand = random.Random(7)
    delays = [backoff.delay(4, rand) for _ in range(200)]
    assert all(6.4 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100


def test_the_error_text_names_the_class_and_keeps_personal_data_out() -> None:
    echoed = ProviderError(
        "POST http://partner/notifications: HTTP 503: "
        f'{{"to": "{NOTE.recipient}", "subject": "{NOTE.subject}", "body": "{NOTE.body[:20]}'
    )
    text = describe_error(echoed, NOTE)
    assert text.startswith("ProviderError: POST http://partner/notifications: HTTP 503: ")
    for secret in (NOTE.recipient, NOTE.subject, NOTE.body[:20]):
        assert secret not in text
    assert text.count("[redacted]") == 3


def test_the_error_text_is_short_and_one_line() -> None:
    text = describe_error(ValueError("x" * 1000 + "\nsecond line"), NOTE)
    assert "\n" not in text and len(text) <= 200
    assert describe_error(TimeoutError(), NOTE) == "TimeoutError"


async def test_the_log_sink_answers_one_delivery_per_channel_without_the_recipient() -> None:
    deliveries = await LogSink().deliver(NOTE)
    assert deliveries == ["log:sms:c9:4:result", "log:email:c9:4:result"]
    assert not any(NOTE.recipient in d for d in deliveries)
