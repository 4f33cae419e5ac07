"""When a failed delivery is tried again, and what the row records about the failure.

A provider outage must delay delivery, never lose it, so there is no attempt limit: the wait
doubles from `base` up to `cap` and stays there. A little jitter spreads the cases that failed
together, so a provider that comes back is not hit by every backlog at the same instant. The
error text stored in `last_error` and logged is the error's class and a short message, with the
notification's recipient, subject and body cut out, since a provider's error page may echo them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cases.core.effects import Notification

_MESSAGE_CHARS = 160
_REDACTED = "[redacted]"
_MIN_FRAGMENT = 8


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0
    jitter: float = 0.2

    def delay(self, attempts: int, rand: random.Random | None = None) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1 for the first)."""
        exponent = min(max(attempts - 1, 0), 62)
        full = min(self.cap, self.base * 2.0**exponent)
        draw = (rand or random).random()
        return full * (1.0 - self.jitter * draw)


def describe_error(err: BaseException, notification: Notification) -> str:
    """`ErrorClass: short message`, free of the notification's personal data."""
    message = str(err).splitlines()[0] if str(err) else ""
    for secret in (notification.recipient, notification.subject, notification.body):
        if len(secret) >= 3:
            message = _cut_cropped_echo(message.replace(secret, _REDACTED), secret)
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    name = type(err).__name__
    return f"{name}: {message}" if message else name


def _cut_cropped_echo(message: str, secret: str) -> str:
    # An echo cut short (a provider's answer quoted up to a length, or up to a line break) ends
    # the message with the start of the secret, which a plain replace cannot see.
    for size in range(min(len(message), len(secret)), _MIN_FRAGMENT - 1, -1):
        if message.endswith(secret[:size]):
            return message[:-size] + _REDACTED
    return message
